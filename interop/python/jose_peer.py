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
  {"op": "encrypt", "alg": "A128KW", "enc": "A128GCM", "jwk": {...public or oct JWK...}, "plaintext": "...",
   "kid": "...", "p2c": 10000, "serialization": "compact"}     (joserfc; "password": "..." instead of "jwk" for
      -> {"token": "..." or {...}}                             PBES2; kid, p2c optional; serialization "compact"
                                                               (the default), "flattened" or "json" (general);
                                                               "json" may list "recipients": [{"alg", "jwk" or
                                                               "password", "kid", "p2c"}] instead of one alg/jwk)
  {"op": "decrypt", "alg": "A128KW", "enc": "A128GCM", "jwk": {...private or oct JWK...}, "token": "..." or {...},
   "max_p2c": 10000}                                           (joserfc, allowing only this alg and enc; "password"
      -> {"plaintext": "...", "header": {...}}                 for PBES2, whose p2c may not exceed max_p2c)
  {"op": "dpop_proof", "alg": "ES256", "htm": "GET", "htu": "https://...", "access_token": "...", "nonce": "..."}
      -> {"proof": "...", "jkt": "..."}          (a DPoP proof made the way a client does: a fresh key pair, its
                                                  public JWK in the header, typ dpop+jwt, a random jti, iat now;
                                                  access_token adds its ath; jkt is the RFC 7638 thumbprint)
  {"op": "dpop_verify", "proof": "...", "htm": "GET", "htu": "https://..."}
      -> {"claims": {...}, "header": {...}, "jkt": "..."}   (verified with the key from the header's jwk, which
                                                  must be public; typ dpop+jwt, an asymmetric alg, iat at most
                                                  60 s old, htm and htu compared exactly)
  Both take "library": "pyjwt" (the default) or "joserfc".
  {"op": "info"} -> {"peer": "python", "versions": {...}, "algorithms": [...],
                     "jwe_algorithms": [...], "jwe_encryptions": [...], "jwe_curves": [...], "unsupported": {...}}

Any failure answers {"error": "..."} and exits 1. Batch mode: {"requests": [...]} answers {"responses": [...]}, one
response per request in order (each may be an error), and exits 0 once every request was answered.
"""

import base64
import hashlib
import json
import sys
import time
import traceback
import uuid

import cryptography
import jwt
from jwt.algorithms import get_default_algorithms

try:
    import joserfc
    from joserfc import jwe as rfc_jwe
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

JWE_ALGORITHMS = [
    "dir",
    "A128KW", "A192KW", "A256KW",
    "A128GCMKW", "A192GCMKW", "A256GCMKW",
    "RSA-OAEP", "RSA-OAEP-256", "RSA-OAEP-384", "RSA-OAEP-512",
    "ECDH-ES", "ECDH-ES+A128KW", "ECDH-ES+A192KW", "ECDH-ES+A256KW",
    "PBES2-HS256+A128KW", "PBES2-HS384+A192KW", "PBES2-HS512+A256KW",
]  # fmt: skip
JWE_ENCRYPTIONS = ["A128GCM", "A192GCM", "A256GCM", "A128CBC-HS256", "A192CBC-HS384", "A256CBC-HS512"]
JWE_CURVES = ["P-256", "P-384", "P-521", "X25519"]


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


DPOP_TYPE = "dpop+jwt"
ASYMMETRIC = [a for a in ALGORITHMS if not a.startswith("HS")]
# RFC 7638 §3.2: the members of each key type that the thumbprint covers.
THUMBPRINT_MEMBERS = {"EC": ("crv", "kty", "x", "y"), "OKP": ("crv", "kty", "x"), "RSA": ("e", "kty", "n")}


def pyjwt_thumbprint(jwk):
    """PyJWT has no RFC 7638 function: the canonical JSON of the required members, hashed."""
    members = {name: jwk[name] for name in THUMBPRINT_MEMBERS[jwk["kty"]]}
    canonical = json.dumps(members, sort_keys=True, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode()


def pyjwt_generate(alg):
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    curves = {"ES256": ec.SECP256R1, "ES384": ec.SECP384R1, "ES512": ec.SECP521R1, "ES256K": ec.SECP256K1}
    if alg in curves:
        return ec.generate_private_key(curves[alg]())
    if alg == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    if alg[:2] in ("RS", "PS"):
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    raise ValueError(f"no DPoP key for {alg}")


def dpop_claims(req):
    claims = {"jti": str(uuid.uuid4()), "htm": req["htm"], "htu": req["htu"], "iat": int(time.time())}
    if req.get("access_token") is not None:
        digest = hashlib.sha256(req["access_token"].encode("ascii")).digest()
        claims["ath"] = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    if req.get("nonce") is not None:
        claims["nonce"] = req["nonce"]
    return claims


def dpop_proof(req):
    alg = req["alg"]
    if alg not in ASYMMETRIC:
        raise ValueError(f"{alg} is not an asymmetric algorithm")
    claims = dpop_claims(req)
    library = library_for(alg, req.get("library"))
    if library == "pyjwt":
        private = pyjwt_generate(alg)
        jwk = get_default_algorithms()[alg].to_jwk(private.public_key(), as_dict=True)
        proof = jwt.encode(claims, private, algorithm=alg, headers={"typ": DPOP_TYPE, "jwk": jwk})
        jkt = pyjwt_thumbprint(jwk)
    else:
        generated = {
            "ES256": lambda: rfc_jwk.ECKey.generate_key("P-256"),
            "ES384": lambda: rfc_jwk.ECKey.generate_key("P-384"),
            "ES512": lambda: rfc_jwk.ECKey.generate_key("P-521"),
            "ES256K": lambda: rfc_jwk.ECKey.generate_key("secp256k1"),
            "EdDSA": lambda: rfc_jwk.OKPKey.generate_key("Ed25519"),
        }
        key = generated.get(alg, lambda: rfc_jwk.RSAKey.generate_key(2048))()
        jwk = key.as_dict(private=False)
        proof = rfc_jwt.encode({"alg": alg, "typ": DPOP_TYPE, "jwk": jwk}, claims, key, algorithms=[alg])
        jkt = key.thumbprint()
    return {"proof": proof, "jkt": jkt, "library": library}


def dpop_verify(req):
    proof = req["proof"]
    header = b64_json(proof.split(".")[0])
    alg, jwk = header.get("alg"), header.get("jwk")
    if header.get("typ") != DPOP_TYPE:
        raise ValueError(f"typ {header.get('typ')!r} is not {DPOP_TYPE}")
    if alg not in ASYMMETRIC:
        raise ValueError(f"alg {alg!r} is not an asymmetric algorithm")
    if not isinstance(jwk, dict) or "d" in jwk:
        raise ValueError("the header's jwk is not a public JWK")
    library = library_for(alg, req.get("library"))
    if library == "pyjwt":
        decoded = jwt.decode_complete(
            proof, jwt.PyJWK(jwk, algorithm=alg).key, algorithms=[alg], options={"require": ["iat", "jti"]}
        )
        claims, jkt = decoded["payload"], pyjwt_thumbprint(jwk)
    else:
        from joserfc.jws import JWSRegistry

        key = rfc_jwk.import_key(jwk)
        registry = JWSRegistry(algorithms=[alg])
        # joserfc's default header bound (512 bytes) is below a header carrying an RSA-2048 jwk.
        registry.max_header_length = 4096
        claims = rfc_jwt.decode(proof, key, registry=registry).claims
        jkt = key.thumbprint()
    if not isinstance(claims.get("iat"), int) or abs(time.time() - claims["iat"]) > 60:
        raise ValueError(f"iat {claims.get('iat')!r} is not within 60 s of now")
    for name in ("htm", "htu"):
        if claims.get(name) != req[name]:
            raise ValueError(f"{name} {claims.get(name)!r} is not {req[name]!r}")
    return {"claims": claims, "header": header, "jkt": jkt, "library": library}


def jwe_only(req):
    if req.get("library", "joserfc") != "joserfc":
        raise ValueError("PyJWT has no JWE; use joserfc")
    if joserfc is None:
        raise ValueError("joserfc is not installed")


def b64_json(segment):
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def jwe_registry(algorithms):
    """A joserfc registry allowing exactly these names: its default allows only the "recommended" ones."""
    return rfc_jwe.JWERegistry(algorithms=sorted(set(algorithms)))


def jwe_key(spec):
    """The key of one recipient: a JWK, or for PBES2 a password (joserfc takes it as an oct key of its bytes)."""
    if "password" in spec:
        return rfc_jwk.OctKey.import_key(spec["password"].encode())
    return rfc_jwk.import_key(spec["jwk"])


def jwe_header(spec, with_alg=True):
    header = {"alg": spec["alg"]} if with_alg else {}
    for name in ("kid", "p2c"):
        if spec.get(name) is not None:
            header[name] = spec[name]
    return header


def encrypt(req):
    jwe_only(req)
    enc, plaintext = req["enc"], req["plaintext"].encode()
    serialization = req.get("serialization", "compact")
    recipients = req.get("recipients") or [req]
    registry = jwe_registry([r["alg"] for r in recipients] + [enc])
    if serialization == "compact":
        (r,) = recipients
        token = rfc_jwe.encrypt_compact({**jwe_header(r), "enc": enc}, plaintext, jwe_key(r), registry=registry)
    elif serialization == "flattened":
        (r,) = recipients
        # joserfc writes a flattened JWE only with a recipient header (represent_flattened_json asserts one):
        # alg, kid and p2c go there, unprotected, as they would in the general serialization.
        obj = rfc_jwe.FlattenedJSONEncryption({"enc": enc}, plaintext)
        obj.add_recipient(jwe_header(r), jwe_key(r))
        token = rfc_jwe.encrypt_json(obj, None, registry=registry)
    elif serialization == "json":
        obj = rfc_jwe.GeneralJSONEncryption({"enc": enc}, plaintext)
        for r in recipients:
            obj.add_recipient(jwe_header(r), jwe_key(r))
        token = rfc_jwe.encrypt_json(obj, None, registry=registry)
    else:
        raise ValueError(f"unknown serialization {serialization!r}")
    return {"token": token}


def decrypt(req):
    jwe_only(req)
    alg, enc, token = req["alg"], req["enc"], req["token"]
    # joserfc has no bound of its own below 300,000: the caller's is checked here, before any derivation.
    if isinstance(token, str):
        headers = [b64_json(token.split(".")[0])]
    else:
        headers = [b64_json(token["protected"]), token.get("unprotected") or {}]
        headers += [r.get("header") or {} for r in token.get("recipients", [token])]
    max_p2c = req.get("max_p2c")
    for p2c in [h["p2c"] for h in headers if "p2c" in h]:
        if max_p2c is not None and p2c > max_p2c:
            raise ValueError(f"p2c {p2c} is above the allowed {max_p2c}")
    key = jwe_key(req)
    if isinstance(token, str):
        opened = rfc_jwe.decrypt_compact(token, key, registry=jwe_registry([alg, enc]))
        header = opened.headers()
    else:
        # Of a general JWE with several recipients, only the one for this key (and alg) can open it.
        registry = jwe_registry([alg, enc])
        registry.verify_all_recipients = False
        if "recipients" in token:
            token = {**token, "recipients": [r for r in token["recipients"] if r.get("header", {}).get("alg") == alg]}
        opened = rfc_jwe.decrypt_json(token, key, registry=registry)
        header = {**(opened.unprotected or {}), **opened.recipients[0].headers(), **opened.protected}
    return {"plaintext": opened.plaintext.decode(), "header": header}


def info(req):
    """What this peer can do: with "library": "joserfc", only joserfc's algorithms, JWE too (from joserfc's own
    registry, so an algorithm it lacks is named with the reason); else PyJWT's plus the fallback, and no JWE."""
    versions = {"python": sys.version.split()[0], "PyJWT": jwt.__version__, "cryptography": cryptography.__version__}
    if joserfc is not None:
        versions["joserfc"] = getattr(joserfc, "__version__", "?")
    if req.get("library") == "joserfc":
        library_for("", "joserfc")  # refuses when joserfc is not installed
        from joserfc.jws import JWSRegistry

        supported = [a for a in ALGORITHMS if a in JWSRegistry.algorithms]
        jwe = rfc_jwe.JWERegistry.algorithms
        unsupported = {a: "not in joserfc's JWE registry" for a in JWE_ALGORITHMS if a not in jwe["alg"]}
        unsupported.update({e: "not in joserfc's JWE registry" for e in JWE_ENCRYPTIONS if e not in jwe["enc"]})
        return {
            "peer": "python",
            "versions": versions,
            "algorithms": supported,
            "jwe_algorithms": [a for a in JWE_ALGORITHMS if a in jwe["alg"]],
            "jwe_encryptions": [e for e in JWE_ENCRYPTIONS if e in jwe["enc"]],
            "jwe_curves": JWE_CURVES,
            "unsupported": unsupported,
        }
    supported = [a for a in ALGORITHMS if a in PYJWT_ALGS or joserfc is not None]
    return {"peer": "python", "versions": versions, "algorithms": supported}


OPS = {
    "sign": sign,
    "verify": verify,
    "verify_jwks": verify_jwks,
    "encrypt": encrypt,
    "decrypt": decrypt,
    "dpop_proof": dpop_proof,
    "dpop_verify": dpop_verify,
    "info": info,
}


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
