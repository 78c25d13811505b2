#!/usr/bin/env python3
"""Seed corpora for the fuzz targets, from the conformance vectors (Wycheproof, JOSE cookbook).

Usage: fuzz-seeds.py VECTORS_DIR CORPUS_DIR [MAX_PER_TARGET]

Walks every JSON file under VECTORS_DIR and files what it finds by shape: compact JWS/JWE strings (a compact JWE
also in the flattened JSON serialization), JWS and JWE JSON objects, JWKs, JWK Sets, PEM and DER keys, JWT claims
(the payloads of the tokens), and the tokens again inside the server's request bodies. Writes each input to
CORPUS_DIR/<target>/<sha1> (libFuzzer's naming, so reruns add nothing twice). The vector files themselves stay
where they are: only inputs derived from them are written, and only into the (git-ignored) working corpus.
"""

import base64
import hashlib
import json
import os
import re
import sys

COMPACT = re.compile(r"^[A-Za-z0-9_-]*(\.[A-Za-z0-9_-]*){2}$|^[A-Za-z0-9_-]*(\.[A-Za-z0-9_-]*){4}$")
DER_MEMBERS = {"publicKeyDer", "privateKeyPkcs8", "publicKeyAsn"}

# The claims target's first two bytes: the verifier's rules and the leeway (see fuzz/src/jose.rs, `claims`).
CLAIMS_FLAGS = [(0b0000_0001, 2), (0b0110_1100, 1), (0b1001_1110, 0)]


def b64url_decode(text):
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError:
        return None


def is_jwe_json(value):
    """A JWE in JSON serialization, general or flattened: a ciphertext, and a protected header or recipients (the
    cookbook's records of how a JWE was made also have a "protected", as a JSON object: not those)."""
    return (
        isinstance(value, dict)
        and isinstance(value.get("ciphertext"), str)
        and (isinstance(value.get("protected"), str) or isinstance(value.get("recipients"), list))
    )


class Seeds:
    def __init__(self):
        self.by_target = {}

    def add(self, target, data):
        if isinstance(data, str):
            data = data.encode()
        self.by_target.setdefault(target, {})[hashlib.sha1(data).hexdigest()] = data

    def token(self, text):
        segments = text.split(".")
        # Five segments make a JWE, three a JWS (COMPACT lets nothing else through).
        self.add("jwe_compact" if len(segments) == 5 else "jws_compact", text)
        if len(segments) == 5:
            # The same JWE in the flattened JSON serialization.
            names = ["protected", "encrypted_key", "iv", "ciphertext", "tag"]
            self.add("jwe_json", json.dumps({n: s for n, s in zip(names, segments) if s}, separators=(",", ":")))
        if len(segments) == 3:
            payload = b64url_decode(segments[1])
            if payload is not None:
                try:
                    claims = json.loads(payload)
                except ValueError:
                    claims = None
                if isinstance(claims, dict):
                    for flags, leeway in CLAIMS_FLAGS:
                        self.add("claims", bytes([flags, leeway]) + payload)
        # The same token where the server reads tokens: introspection form, refresh and logout bodies.
        self.add("server_form", b"\x03Basic YXBwOnMzY3JldA==\ntoken=" + text.encode())
        self.add("server_json", json.dumps({"refresh_token": text}))
        self.add("server_logout", "all=false\napplication/json\n" + json.dumps({"refresh_token": text}))

    def walk(self, value, key=None):
        if isinstance(value, dict):
            if "kty" in value:
                self.add("jwk", json.dumps(value))
                self.add("jwks", json.dumps({"keys": [value]}))
            if isinstance(value.get("keys"), list):
                self.add("jwks", json.dumps(value))
            if "payload" in value and ("signatures" in value or "signature" in value):
                self.add("jws_json", json.dumps(value))
            if is_jwe_json(value):
                self.add("jwe_json", json.dumps(value))
            for k, v in value.items():
                self.walk(v, k)
        elif isinstance(value, list):
            for v in value:
                self.walk(v, key)
        elif isinstance(value, str):
            if value.startswith("-----BEGIN"):
                self.add("key_import", b"\x00" + value.encode())
            elif key in DER_MEMBERS and re.fullmatch(r"(?:[0-9a-f]{2})+", value):
                self.add("key_import", b"\x01" + bytes.fromhex(value))
            elif value.startswith("{"):
                try:
                    parsed = json.loads(value)
                except ValueError:
                    parsed = None
                if isinstance(parsed, dict) and "payload" in parsed:
                    self.add("jws_json", value)
                if is_jwe_json(parsed):
                    self.add("jwe_json", value)
            elif value.startswith("eyJ") and COMPACT.match(value):
                self.token(value)


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    vectors, out = sys.argv[1], sys.argv[2]
    limit = int(sys.argv[3]) if len(sys.argv) == 4 else 300
    if not os.path.isfile(os.path.join(vectors, "README.md")):
        sys.exit(f"conformance vectors not found at {vectors} (see its README.md); refusing to fuzz without them")
    seeds = Seeds()
    files = 0
    for root, _, names in sorted(os.walk(vectors)):
        for name in sorted(names):
            if name.endswith(".json"):
                with open(os.path.join(root, name), encoding="utf-8") as f:
                    seeds.walk(json.load(f))
                files += 1
    if files == 0:
        sys.exit(f"no JSON vector files under {vectors}")
    for target, found in sorted(seeds.by_target.items()):
        directory = os.path.join(out, target)
        os.makedirs(directory, exist_ok=True)
        # A stable, spread-out choice when there are more than `limit`: the first by hash.
        chosen = sorted(found)[:limit]
        for digest in chosen:
            with open(os.path.join(directory, digest), "wb") as f:
                f.write(found[digest])
        print(f"   {target}: {len(chosen)} seeds from the vectors ({len(found)} found)")


if __name__ == "__main__":
    main()
