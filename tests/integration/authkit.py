"""Test helpers for authentication: signing keys made with ``cryptography``, a JWKS served over
real HTTP on a loopback port, and tokens minted with PyJWT."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

ISSUER = "https://idp.test.example"
AUDIENCE = "deeplens-test"


@dataclass(frozen=True)
class SigningKey:
    """A private key, its key id and the algorithm it signs with."""

    kid: str
    alg: str
    private: Any

    def public_jwk(self) -> dict[str, Any]:
        """The public half as a JWK, as an identity provider lists it."""
        to_jwk = RSAAlgorithm.to_jwk if self.alg == "RS256" else ECAlgorithm.to_jwk
        return to_jwk(self.private.public_key(), as_dict=True) | {"kid": self.kid, "alg": self.alg, "use": "sig"}

    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(serialization.Encoding.PEM,
                                                      serialization.PublicFormat.SubjectPublicKeyInfo)


def rsa_key(kid: str) -> SigningKey:
    return SigningKey(kid, "RS256", rsa.generate_private_key(public_exponent=65537, key_size=2048))


def ec_key(kid: str) -> SigningKey:
    return SigningKey(kid, "ES256", ec.generate_private_key(ec.SECP256R1()))


def claims(tenant: str, scope: str = "read", *, expires_in: float = 300, **extra: Any) -> dict[str, Any]:
    """The claims of a token of ``tenant`` with ``scope``, from the test issuer for the test audience."""
    now = int(time.time())
    return {"iss": ISSUER, "aud": AUDIENCE, "sub": f"user-of-{tenant}", "iat": now, "exp": now + int(expires_in),
            "tenant": tenant, "scope": scope} | extra


def mint(key: SigningKey, payload: dict[str, Any]) -> str:
    """A token signed by ``key`` (its kid in the header)."""
    return jwt.encode(payload, key.private, algorithm=key.alg, headers={"kid": key.kid})


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forged(header: dict[str, Any], payload: dict[str, Any], hmac_key: bytes | None = None) -> str:
    """A token PyJWT would refuse to make: unsigned (``alg: none``), or HMAC-signed with ``hmac_key``
    whatever that is (an RSA public key, for the algorithm-confusion attack)."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"
    signature = b"" if hmac_key is None else hmac.new(hmac_key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


class JwksServer:
    """Serves a JWK Set at ``url`` over HTTP from a thread; ``publish`` replaces the keys (a rotation)."""

    def __init__(self, keys: list[SigningKey]) -> None:
        self._jwks = {"keys": [k.public_jwk() for k in keys]}
        self.fetches = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.fetches += 1
                body = json.dumps(server._jwks).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/.well-known/jwks.json"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def publish(self, keys: list[SigningKey]) -> None:
        self._jwks = {"keys": [k.public_jwk() for k in keys]}

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def bearer(token: str) -> dict[str, str]:
    """The header that carries a credential."""
    return {"Authorization": f"Bearer {token}"}
