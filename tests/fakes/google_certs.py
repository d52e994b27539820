"""A stand-in for Google's ID-token signing: a local RSA key, a self-signed X.509 certificate served in
Google's v1 certs format ({kid: PEM certificate}) by a tiny HTTP server, and a signer for ID tokens."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

ISSUER = "https://accounts.google.com"


def _rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _certificate(key: rsa.RSAPrivateKey) -> str:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-google-signer")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


class FakeGoogle:
    """Signs ID tokens like Google's; `certs_url` serves the public certificate. `fetches` counts GETs."""

    def __init__(self, client_id: str) -> None:
        self.client_id = client_id
        self.kid = uuid.uuid4().hex
        self.key = _rsa_key()
        self.certs = {self.kid: _certificate(self.key)}
        self.fetches = 0
        self.certs_url = ""

    def claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        sub = str(uuid.uuid4().int)[:21]
        claims = {
            "iss": ISSUER,
            "aud": self.client_id,
            "azp": self.client_id,
            "sub": sub,
            "email": f"g{sub}@gmail.example.com",
            "email_verified": True,
            "iat": now,
            "exp": now + 3600,
        }
        claims.update(overrides)
        return claims

    def sign(
        self,
        claims: dict[str, Any],
        key: rsa.RSAPrivateKey | None = None,
        kid: str | None = None,
        algorithm: str = "RS256",
    ) -> str:
        return jwt.encode(claims, key or self.key, algorithm=algorithm, headers={"kid": kid or self.kid})

    def id_token(self, **overrides: Any) -> str:
        return self.sign(self.claims(**overrides))

    @staticmethod
    def other_key() -> rsa.RSAPrivateKey:
        return _rsa_key()

    @contextmanager
    def serve(self) -> Iterator[FakeGoogle]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake.fetches += 1
                body = json.dumps(fake.certs).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Cache-Control", "public, max-age=300")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        self.certs_url = f"http://127.0.0.1:{server.server_address[1]}/oauth2/v1/certs"
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)
