"""TLS against a real TLS server (nginx) on loopback with a self-signed certificate made here:
verification is on by default (a failure is an error type naming TLS), target.caBundle
makes the certificate trusted, and target.insecure skips the check but says so in the
reports."""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from runs import run_cli, write_spec
from targets import Nginx

INSECURE = "TLS verification was off (target.insecure: true)"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key (PEM files)."""
    directory = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "isvcperf test server")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "server.pem", directory / "server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@pytest.fixture
def tls_server(certificate: tuple[Path, Path]) -> Iterator[Nginx]:
    """nginx terminating TLS with the self-signed certificate."""
    with Nginx(tls=certificate, count=True) as server:
        yield server


def _run(tmp_path: Path, server: Nginx, **target: object) -> tuple[int, dict, str]:
    spec = write_spec(tmp_path, server.url(), target={"timeout": "5s", **target},
                      load={"requests": 20, "duration": None, "rate": 0})
    run = run_cli(tmp_path, "run", str(spec), "--out", str(tmp_path / "out"))
    return run.returncode, run.result, run.text


def test_verification_is_on_by_default(tmp_path: Path, tls_server: Nginx) -> None:
    code, _, text = _run(tmp_path, tls_server)  # readiness also verifies: it is the one that fails
    assert code == 3, text
    assert "CERTIFICATE_VERIFY_FAILED" in text and "Traceback" not in text
    spec = write_spec(tmp_path, tls_server.url(), ready={"enabled": False},
                      load={"requests": 20, "duration": None, "rate": 0})
    run = run_cli(tmp_path, "run", str(spec), "--out", str(tmp_path / "out2"))
    assert run.returncode == 1, run.text
    assert [(e["type"], e["count"]) for e in run.result["errors"]] == [("TLS certificate verification failed", 20)]
    assert "self-signed certificate" in run.result["errors"][0]["example"]


def test_ca_bundle_makes_the_certificate_trusted(tmp_path: Path, tls_server: Nginx,
                                                 certificate: tuple[Path, Path]) -> None:
    (tmp_path / "ca.pem").write_bytes(certificate[0].read_bytes())
    code, result, text = _run(tmp_path, tls_server, caBundle="ca.pem")  # relative to the spec file
    assert code == 0, text
    assert result["metrics"]["http/error-count"] == 0 and result["metrics"]["http/request-count"] == 20
    assert not any("TLS" in w for w in result["warnings"])


def test_insecure_skips_verification_and_every_report_says_so(tmp_path: Path, tls_server: Nginx) -> None:
    code, result, text = _run(tmp_path, tls_server, insecure=True)
    assert code == 0, text
    assert result["metrics"]["http/error-count"] == 0
    assert any(w.startswith(INSECURE) for w in result["warnings"])
    out = tmp_path / "out"
    assert INSECURE in (out / "report.txt").read_text()
    assert INSECURE in (out / "report.html").read_text()
    assert INSECURE in text  # printed with the verdict
