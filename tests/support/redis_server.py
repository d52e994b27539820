"""A throwaway redis-server of the test's own, with AUTH (`--requirepass`) and optionally TLS, and a throwaway
certificate authority made with `cryptography` for it. Skips (with the reason) where redis-server is not
installed or was built without TLS: the devstack then runs fakeredis, which has neither."""

from __future__ import annotations

import datetime as dt
import ipaddress
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from scripts.stack import free_port, port_open


@dataclass(frozen=True)
class Pki:
    ca: Path  # the CA certificate (PEM) clients trust
    cert: Path  # the server's certificate, for 127.0.0.1 only
    key: Path


_CA_USAGE = x509.KeyUsage(
    digital_signature=False,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=True,
    crl_sign=True,
    encipher_only=False,
    decipher_only=False,
)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_pki(directory: Path, label: str = "test") -> Pki:
    """A CA and a server certificate it signed whose only name is the address 127.0.0.1."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name(f"{label} redis CA"))
        .issuer_name(_name(f"{label} redis CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_CA_USAGE, critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    pki = Pki(
        directory / f"{label}-ca.pem", directory / f"{label}-server.pem", directory / f"{label}-server.key"
    )
    pki.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    pki.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pki.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return pki


@contextmanager
def redis_server(password: str, directory: Path, pki: Pki | None = None) -> Iterator[int]:
    """A redis-server requiring `password` on a free port of 127.0.0.1 (TLS only, when `pki` is given);
    yields the port and stops the server after."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (the devstack uses fakeredis, which has no AUTH or TLS)")
    port = free_port()
    args = [binary, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--requirepass", password]
    args += ["--dir", str(directory)]
    if pki is None:
        args += ["--port", str(port)]
    else:
        args += ["--port", "0", "--tls-port", str(port), "--tls-auth-clients", "no"]
        args += ["--tls-cert-file", str(pki.cert), "--tls-key-file", str(pki.key)]
        args += ["--tls-ca-cert-file", str(pki.ca)]
    log = directory / f"redis-{port}.log"
    with log.open("w") as out:
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while not port_open(port):
            if process.poll() is not None:
                text = log.read_text()
                if pki is not None and "tls" in text.lower():
                    pytest.skip(f"this redis-server cannot serve TLS: {text.strip()[-300:]}")
                raise AssertionError(f"redis-server exited: {text[-1000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"redis-server did not listen on {port}: {log.read_text()[-1000:]}")
            time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
