#!/usr/bin/env python3
"""Interop peer for waxseal's tests: signs and verifies JWTs with PyJWT (joserfc where PyJWT lacks an algorithm).

Reads one JSON request on stdin, writes one JSON response on stdout.

  {"op": "sign", "alg": "ES256", "jwk": {...private or oct JWK...}, "claims": {...}, "kid": "..."}
      -> {"token": "..."}
  {"op": "verify", "alg": "ES256", "jwk": {...public or oct JWK...}, "token": "...",
   "issuer": "...", "audience": "..."}            (issuer and audience optional)
      -> {"claims": {...}}
  Either may add "library": "pyjwt" (the default) or "joserfc" to pick the implementation.
  {"op": "verify_jwks", "jwks": {...JWK Set...}, "token": "...", "algorithms": ["ES256"],
   "issuer": "...", "audience": "...", "typ": "at+jwt"}   (PyJWT; verifies like a resource server: the key is
      -> {"claims": {...}, "header": {...}}                 picked from the set by the token's kid; exp, iat and
                                                             sub are required; typ, issuer, audience optional)
  {"op": "info"} -> {"peer": "python", "versions": {...}, "algorithms": [...]}

Any failure answers {"error": "..."} and exits 1. Batch mode: {"requests": [...]} answers {"responses": [...]}, one
response per request in order (each may be an error), and exits 0 once every request was answered.
"""

import json
import sys
import traceback

import cryptography
import jwt
from jwt.algorithms import get_default_algorithms

try:
    import joserfc
    from joserfc import jwk as rfc_jwk
    from joserfc import jwt as rfc_jwt
    from joserfc.jwt import JWTClaimsRegistry
except ImportError:  # joserfc is only the fallback for algorithms PyJWT lacks
    joserfc = None

ALGORITHMS = [
    "HS256", "HS384", "HS512",
    "RS256", "RS384", "RS512",
    "PS256", "PS384", "PS512",
    "ES256", "ES384", "ES512", "ES256K",
    "EdDSA",
]  # fmt: skip

PYJWT_ALGS = set(get_default_algorithms())


def library_for(alg, wanted=None):
    if wanted == "joserfc":
        if joserfc is None:
            raise ValueError("joserfc is not installed")
        return "joserfc"
    if wanted not in (None, "pyjwt"):
        raise ValueError(f"unknown library {wanted!r}; use pyjwt or joserfc")
    if alg in PYJWT_ALGS:
        return "pyjwt"
    if joserfc is not None:
        return "joserfc"
    raise ValueError(f"neither PyJWT nor joserfc (not installed) supports {alg}")


def pyjwt_key(jwk, alg):
    return jwt.PyJWK(jwk, algorithm=alg).key


def sign(req):
    alg, jwk, claims = req["alg"], req["jwk"], req["claims"]
    kid = req.get("kid")
    library = library_for(alg, req.get("library"))
    if library == "pyjwt":
        headers = {"kid": kid} if kid else None
        token = jwt.encode(claims, pyjwt_key(jwk, alg), algorithm=alg, headers=headers)
    else:
        header = {"alg": alg, "typ": "JWT"}
        if kid:
            header["kid"] = kid
        key = rfc_jwk.import_key(jwk)
        token = rfc_jwt.encode(header, claims, key, algorithms=[alg])
    return {"token": token, "library": library}


def verify(req):
    alg, jwk, token = req["alg"], req["jwk"], req["token"]
    issuer, audience = req.get("issuer"), req.get("audience")
    library = library_for(alg, req.get("library"))
    if library == "pyjwt":
        options = {"require": ["exp"]}
        claims = jwt.decode(
            token,
            pyjwt_key(jwk, alg),
            algorithms=[alg],
            issuer=issuer,
            audience=audience,
            options=options,
        )
    else:
        key = rfc_jwk.import_key(jwk)
        decoded = rfc_jwt.decode(token, key, algorithms=[alg])
        if decoded.header.get("alg") != alg:
            raise ValueError(f"token alg {decoded.header.get('alg')!r} is not {alg}")
        rules = {"exp": {"essential": True}}
        if issuer is not None:
            rules["iss"] = {"essential": True, "value": issuer}
        if audience is not None:
            rules["aud"] = {"essential": True, "value": audience}
        JWTClaimsRegistry(**rules).validate(decoded.claims)
        claims = decoded.claims
    return {"claims": claims, "library": library}


def verify_jwks(req):
    jwks, token, algorithms = req["jwks"], req["token"], req["algorithms"]
    kid = jwt.get_unverified_header(token).get("kid")
    try:
        key = jwt.PyJWKSet.from_dict(jwks)[kid]
    except KeyError:
        raise ValueError(f"no key with kid {kid!r} in the JWK Set") from None
    decoded = jwt.decode_complete(
        token,
        key.key,
        algorithms=algorithms,
        issuer=req.get("issuer"),
        audience=req.get("audience"),
        options={"require": ["exp", "iat", "sub"]},
    )
    typ = req.get("typ")
    if typ is not None and decoded["header"].get("typ") != typ:
        raise ValueError(f"typ {decoded['header'].get('typ')!r} is not {typ!r}")
    return {"claims": decoded["payload"], "header": decoded["header"]}


def info(req):
    """What this peer can do: with "library": "joserfc", only joserfc's algorithms; else PyJWT's plus the fallback."""
    versions = {"python": sys.version.split()[0], "PyJWT": jwt.__version__, "cryptography": cryptography.__version__}
    if joserfc is not None:
        versions["joserfc"] = getattr(joserfc, "__version__", "?")
    if req.get("library") == "joserfc":
        library_for("", "joserfc")  # refuses when joserfc is not installed
        from joserfc.jws import JWSRegistry

        supported = [a for a in ALGORITHMS if a in JWSRegistry.algorithms]
    else:
        supported = [a for a in ALGORITHMS if a in PYJWT_ALGS or joserfc is not None]
    return {"peer": "python", "versions": versions, "algorithms": supported}


OPS = {"sign": sign, "verify": verify, "verify_jwks": verify_jwks, "info": info}


def handle(req):
    try:
        op = OPS.get(req.get("op"))
        if op is None:
            raise ValueError(f"unknown op {req.get('op')!r}")
        return op(req)
    except Exception as e:  # every failure becomes an answer, never a crash of the batch
        detail = "".join(traceback.format_exception_only(type(e), e)).strip()
        return {"error": detail}


def main():
    try:
        request = json.load(sys.stdin)
    except ValueError as e:
        json.dump({"error": f"request is not JSON: {e}"}, sys.stdout)
        return 2
    if isinstance(request, dict) and isinstance(request.get("requests"), list):
        json.dump({"responses": [handle(r) for r in request["requests"]]}, sys.stdout)
        return 0
    response = handle(request)
    json.dump(response, sys.stdout)
    return 1 if "error" in response else 0


if __name__ == "__main__":
    sys.exit(main())
