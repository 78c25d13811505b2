"""Navigation timing of a page in headless Chromium, over WebDriver (chromedriver) spoken directly: no client library.

usage: page-timing.py URL LOADS

The browser first loads another page a few times, so that what is measured is the page, not the browser starting.
Then: the first load of URL (the page's files not in any cache), and the median and maximum of LOADS more loads,
each after about:blank. Times are from the request's start (Navigation Timing Level 2): the first byte, DOM
interactive, DOMContentLoaded (module scripts have run: the page answers input), and the load event.
"""

import json
import socket
import statistics
import subprocess
import sys
import time
import urllib.request

url, loads = sys.argv[1], int(sys.argv[2])
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
driver = subprocess.Popen(["chromedriver", f"--port={port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def call(method, path, body=None):
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    return json.load(urllib.request.urlopen(request, timeout=60))["value"]


def visit(session, target):
    call("POST", f"/session/{session}/url", {"url": target})


TIMING = """
const e = performance.getEntriesByType('navigation')[0];
return [e.responseStart - e.requestStart, e.domInteractive - e.requestStart,
        e.domContentLoadedEventEnd - e.requestStart, e.loadEventEnd - e.requestStart];
"""
NAMES = ["first byte", "DOM interactive", "DOMContentLoaded (scripts run)", "load event"]

for _ in range(100):
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=1)
        break
    except OSError:
        time.sleep(0.1)
options = {"binary": "/usr/bin/chromium", "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]}
session = call("POST", "/session", {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": options}}})[
    "sessionId"
]
try:
    for _ in range(3):
        visit(session, "data:text/html,<p>warming up")
    rows = []
    for i in range(loads + 1):
        visit(session, "about:blank")
        visit(session, url)
        row = call("POST", f"/session/{session}/execute/sync", {"script": TIMING, "args": []})
        if i == 0:
            print("first load (cold caches): " + ", ".join(f"{n} {v:.1f} ms" for n, v in zip(NAMES, row)))
        else:
            rows.append(row)
finally:
    call("DELETE", f"/session/{session}")
    driver.terminate()
for k, name in enumerate(NAMES):
    values = sorted(row[k] for row in rows)
    print(f"{name}: median {statistics.median(values):.1f} ms, max {values[-1]:.1f} ms ({len(values)} loads)")
