"""The HTTPS listener (`--listen-tls`): a certificate from Trent's own CA by default, trusted through
`<data>/ca.pem`, or the operator's own; the same edge and credentials as over HTTP."""
import os
import ssl
import subprocess
import urllib.request

import boto3
import pytest
from botocore.exceptions import SSLError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
import datetime

from harness import Trent


@pytest.fixture(scope="module")
def tls_trent():
    server = Trent(extra_args=("--listen-tls", "127.0.0.1:0", "--tls-host-names", "kms.example.internal"))
    yield server
    server.stop()


def client_for(trent, url, verify):
    access_key_id, secret = trent.admin_credentials()
    session = boto3.session.Session(aws_access_key_id=access_key_id, aws_secret_access_key=secret,
                                    region_name="us-east-1")
    return session.client("kms", endpoint_url=url, verify=verify)


def test_https_serves_kms_with_the_ca_trent_wrote(tls_trent):
    assert tls_trent.tls_url.startswith("https://127.0.0.1:")
    ca = os.path.join(tls_trent.data_dir, "ca.pem")
    assert oct(os.stat(os.path.join(tls_trent.data_dir, "ca-key.pem")).st_mode & 0o777) == "0o600"
    kms = client_for(tls_trent, tls_trent.tls_url, ca)
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    # One store behind both listeners.
    assert client_for(tls_trent, tls_trent.url, None).describe_key(KeyId=key_id)["KeyMetadata"]["Enabled"]


def test_the_certificate_names_loopback_and_the_configured_host_and_chains_to_the_ca(tls_trent):
    host, port = tls_trent.tls_url.removeprefix("https://").rsplit(":", 1)
    pem = ssl.get_server_certificate((host, int(port)))
    cert = x509.load_pem_x509_certificate(pem.encode())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {"localhost", "kms.example.internal"} <= set(names.get_values_for_type(x509.DNSName))
    assert {str(ip) for ip in names.get_values_for_type(x509.IPAddress)} >= {"127.0.0.1", "::1"}
    ca = x509.load_pem_x509_certificate(open(os.path.join(tls_trent.data_dir, "ca.pem"), "rb").read())
    cert.verify_directly_issued_by(ca)


def test_a_client_that_does_not_trust_the_ca_refuses_the_connection(tls_trent):
    with pytest.raises(SSLError):
        client_for(tls_trent, tls_trent.tls_url, True).list_keys()


def test_aws_cli_over_https_with_ca_bundle(tls_trent):
    result = subprocess.run(["aws", "kms", "list-keys", "--endpoint-url", tls_trent.tls_url, "--ca-bundle",
                             os.path.join(tls_trent.data_dir, "ca.pem"), "--output", "json"],
                            capture_output=True, text=True, env=tls_trent.env(), timeout=60)
    assert result.returncode == 0, result.stderr
    assert "Keys" in result.stdout


def test_health_answers_over_https(tls_trent):
    context = ssl.create_default_context(cafile=os.path.join(tls_trent.data_dir, "ca.pem"))
    with urllib.request.urlopen(f"{tls_trent.tls_url}/health", context=context) as response:
        assert response.status == 200


def test_the_ca_and_certificate_survive_a_restart(tmp_path):
    first = Trent(extra_args=("--listen-tls", "127.0.0.1:0"), data_dir=tmp_path)
    ca_before = open(tmp_path / "ca.pem").read()
    first.stop(keep_data=True)
    second = Trent(extra_args=("--listen-tls", "127.0.0.1:0"), data_dir=tmp_path)
    try:
        assert open(tmp_path / "ca.pem").read() == ca_before
        client_for(second, second.tls_url, str(tmp_path / "ca.pem")).list_keys()
    finally:
        second.stop()


def test_an_operator_certificate_is_served_instead(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "operator")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(__import__("ipaddress").ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                         serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
    data = tmp_path / "data"
    server = Trent(extra_args=("--listen-tls", "127.0.0.1:0", "--tls-cert", str(tmp_path / "cert.pem"),
                               "--tls-key", str(tmp_path / "key.pem")), data_dir=data)
    try:
        client_for(server, server.tls_url, str(tmp_path / "cert.pem")).list_keys()
        assert not (data / "ca.pem").exists()
    finally:
        server.stop()
