"""An MCP client on the official Python SDK (`mcp`) signing in to an MCP server protected by waxseal, as
examples/mcp-server/tests/sdk_clients.rs drives it:

    python3 interop/python/mcp_client.py MCP_URL

Given only the server's URL, the SDK's OAuthClientProvider does the rest: the 401 names the protected resource
metadata, which names the authorization server; the SDK registers a client there (RFC 7591) and builds the
authorization URL (PKCE, state, resource). `redirect_handler` prints that URL as one JSON line, {"authorize": URL},
for someone (the test's browser) to open; `callback_handler` waits for the redirect at a loopback server this
script runs on a random port. The SDK checks state and the RFC 9207 `iss`, exchanges the code and retries; the
script lists the tools, calls `whoami` and `add`, and prints one JSON line with what it got. Any failure prints
{"error": "..."} and exits 1.
"""

import asyncio
import json
import sys
import traceback
from urllib.parse import parse_qs, urlsplit

import httpx2
from mcp import ClientSession
from mcp.client.auth import OAuthClientProvider, TokenStorage
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

# The whole run, sign-in included, must end within this: a stuck flow fails instead of hanging the test.
DEADLINE_SECONDS = 120


def say(line: dict) -> None:
    print(json.dumps(line), flush=True)


class MemoryStorage(TokenStorage):
    """Everything in memory: this run registers afresh."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


class Callback:
    """The loopback redirect URI's server: the first /callback's query, once it arrives."""

    def __init__(self) -> None:
        self.query: asyncio.Future[dict[str, str]] = asyncio.get_running_loop().create_future()
        self.server: asyncio.Server | None = None
        self.redirect_uri = ""

    async def start(self) -> None:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        self.redirect_uri = f"http://127.0.0.1:{port}/callback"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request_line = (await reader.readline()).decode("latin-1")
            while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                pass  # the headers: nothing in them matters here
            target = request_line.split(" ")[1] if request_line.count(" ") >= 2 else "/"
            url = urlsplit(target)
            if url.path != "/callback":
                writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                return
            body = b"<!doctype html><title>Signed in</title><h1>Signed in</h1><p>Back to the MCP client.</p>"
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nConnection: close\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            if not self.query.done():
                self.query.set_result({k: v[0] for k, v in parse_qs(url.query).items()})
        finally:
            await writer.drain()
            writer.close()

    async def wait(self) -> AuthorizationCodeResult:
        query = await self.query
        if "error" in query:
            raise RuntimeError(f"authorization refused: {query['error']}: {query.get('error_description')}")
        return AuthorizationCodeResult(code=query["code"], state=query.get("state"), iss=query.get("iss"))


async def run(mcp_url: str) -> dict:
    callback = Callback()
    await callback.start()

    async def redirect_handler(url: str) -> None:
        say({"authorize": url})

    storage = MemoryStorage()
    oauth = OAuthClientProvider(
        server_url=mcp_url,
        client_metadata=OAuthClientMetadata(
            client_name="waxseal interop: MCP Python SDK",
            redirect_uris=[callback.redirect_uri],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",
        ),
        storage=storage,
        redirect_handler=redirect_handler,
        callback_handler=callback.wait,
    )
    async with httpx2.AsyncClient(auth=oauth, timeout=30) as http:
        async with streamable_http_client(mcp_url, http_client=http) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                tools = sorted(tool.name for tool in (await session.list_tools()).tools)
                whoami = await session.call_tool("whoami", {})
                add = await session.call_tool("add", {"a": 2, "b": 40})
    if callback.server is not None:
        callback.server.close()
    return {
        "sdk": "python",
        "client_id": storage.client.client_id if storage.client else None,
        "tools": tools,
        "whoami": {"is_error": bool(whoami.is_error), "result": json.loads(whoami.content[0].text)},
        "add": {"is_error": bool(add.is_error), "result": add.content[0].text},
    }


async def main() -> int:
    if len(sys.argv) != 2 or sys.argv[1].startswith("-"):
        say({"error": "usage: python3 mcp_client.py MCP_URL"})
        return 1
    try:
        say(await asyncio.wait_for(run(sys.argv[1]), DEADLINE_SECONDS))
        return 0
    except BaseException:  # noqa: BLE001 - every failure is reported the same way, as one line
        say({"error": traceback.format_exc()})
        return 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
