"""The audit trail through the real server: every request on record as a CloudTrail-shaped line,
no secret in it, `trent audit verify` catching edits, deletions and reorderings, GetKeyLastUsage
fed by the same records, and requests refused when their record cannot be written."""

import base64
import json
import os
import shutil
import subprocess
import time
import uuid

import pytest
from botocore.exceptions import ClientError

from harness import CLI, STORE, Trent, error_of, run_trent_cli


@pytest.fixture(scope="module")
def audited():
    server = Trent()
    yield server
    server.stop()


def audit_file(trent):
    return os.path.join(trent.data_dir, "audit", "audit.log")


def records(trent):
    with open(audit_file(trent), encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def by_request_id(trent):
    return {record["requestID"]: record for record in records(trent) if "requestID" in record}


def request_id(response):
    return response["ResponseMetadata"]["RequestId"]


def audit_verify(*args):
    """`trent audit verify`: it reads the audit files, the root key, and the store's sealing key when there is a store."""
    return subprocess.run(["node", str(CLI), "audit", "verify", *args], capture_output=True, text=True, timeout=60)


def verify(trent, *files):
    return audit_verify(*files, "--data", trent.data_dir)


def secret_spellings(secret):
    return [base64.b64encode(secret).decode(), base64.urlsafe_b64encode(secret).decode().rstrip("="),
            secret.hex(), secret.hex().upper()]


def test_every_request_is_recorded_as_a_cloudtrail_event_without_secrets(audited):
    kms = audited.client()
    key = kms.create_key(Description="audited")["KeyMetadata"]
    data_key = kms.generate_data_key(KeyId=key["KeyId"], KeySpec="AES_256", EncryptionContext={"app": "audit"})
    plaintext = os.urandom(48)
    encrypted = kms.encrypt(KeyId=key["Arn"], Plaintext=plaintext)
    decrypted = kms.decrypt(CiphertextBlob=encrypted["CiphertextBlob"])
    assert decrypted["Plaintext"] == plaintext
    grant = kms.create_grant(KeyId=key["KeyId"], GranteePrincipal=f"arn:aws:iam::{audited.account_id}:user/bob",
                             Operations=["Decrypt"])
    with_token = kms.decrypt(CiphertextBlob=encrypted["CiphertextBlob"], GrantTokens=[grant["GrantToken"]])
    signing = kms.create_key(KeyUsage="SIGN_VERIFY", KeySpec="ECC_NIST_P256")["KeyMetadata"]
    message = os.urandom(32)
    kms.sign(KeyId=signing["KeyId"], Message=message, SigningAlgorithm="ECDSA_SHA_256")
    with pytest.raises(ClientError) as missing:
        kms.describe_key(KeyId=str(uuid.uuid4()))
    stranger = audited.client("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    with pytest.raises(ClientError) as unknown_key:
        stranger.list_keys()

    recorded = by_request_id(audited)
    answered = [key, data_key, encrypted, decrypted, grant, with_token]
    for response in [data_key, encrypted, decrypted, grant, with_token]:
        assert request_id(response) in recorded
    created = recorded[request_id(data_key)]
    assert created["eventSource"] == "kms.amazonaws.com"
    assert created["eventName"] == "GenerateDataKey"
    assert created["awsRegion"] == audited.region
    assert created["userIdentity"]["type"] == "IAMUser"
    assert created["userIdentity"]["arn"] == f"arn:aws:iam::{audited.account_id}:user/admin"
    assert created["userIdentity"]["accessKeyId"] == audited.admin_credentials()[0]
    assert created["sourceIPAddress"] == "127.0.0.1"
    assert "Boto3" in created["userAgent"] or "botocore" in created["userAgent"]
    assert created["readOnly"] is True
    assert created["resources"] == [{"accountId": audited.account_id, "type": "AWS::KMS::Key", "ARN": key["Arn"]}]
    assert created["requestParameters"] == {"keyId": key["KeyId"], "keySpec": "AES_256",
                                            "encryptionContext": {"app": "audit"}}
    for field in ("eventVersion", "eventTime", "eventID", "eventType", "recipientAccountId"):
        assert created[field]

    # Ciphertexts appear only as a keyed hash, the same in the Encrypt that made one and the Decrypt that used it.
    made = recorded[request_id(encrypted)]["responseElements"]["ciphertextBlob"]
    used = recorded[request_id(decrypted)]["requestParameters"]["ciphertextBlob"]
    assert made == used and made.startswith("hmac-sha256:")
    token_hash = recorded[request_id(with_token)]["requestParameters"]["grantTokens"][0]
    assert token_hash.startswith("hmac-sha256:") and grant["GrantToken"] not in token_hash

    denied = [r for r in recorded.values() if r.get("errorCode") == "NotFoundException"]
    assert denied and denied[-1]["eventName"] == "DescribeKey"
    assert error_of(missing)[0] == "NotFoundException"
    unauthenticated = recorded[unknown_key.value.response["ResponseMetadata"]["RequestId"]]
    assert unauthenticated["errorCode"] == "UnrecognizedClientException"
    assert unauthenticated["userIdentity"] is None
    assert unauthenticated["eventName"] == "ListKeys"

    with open(audit_file(audited), "rb") as f:
        trail = f.read()
    secrets = [data_key["Plaintext"], plaintext, message, grant["GrantToken"].encode(),
               encrypted["CiphertextBlob"], data_key["CiphertextBlob"]]
    for secret in secrets:
        assert secret not in trail
        for spelling in secret_spellings(secret):
            assert spelling.encode() not in trail, f"a secret appears in the audit trail as {spelling[:12]}..."
    assert len(answered) == 6


def test_denied_requests_are_recorded_with_the_caller(audited):
    issued = json.loads(run_trent_cli("access-key", "create", "--user", f"mallory-{uuid.uuid4().hex[:8]}",
                                      "--data", audited.data_dir).stdout)
    mallory = audited.client(issued["AccessKeyId"], issued["SecretAccessKey"])
    with pytest.raises(ClientError) as denied:
        mallory.create_key()
    assert error_of(denied)[0] == "AccessDeniedException"
    record = by_request_id(audited)[denied.value.response["ResponseMetadata"]["RequestId"]]
    assert record["errorCode"] == "AccessDeniedException"
    assert record["errorMessage"] == error_of(denied)[1]
    assert record["userIdentity"]["arn"] == issued["Arn"]
    assert record["readOnly"] is False


def test_audit_verify_reports_the_first_edited_deleted_or_reordered_record(audited, tmp_path):
    kms = audited.client()
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    for _ in range(5):
        kms.encrypt(KeyId=key, Plaintext=b"x")
    ok = verify(audited)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "OK:" in ok.stdout

    with open(audit_file(audited), encoding="utf-8") as f:
        lines = f.read().splitlines()
    target = next(i for i, line in enumerate(lines) if '"eventName":"Encrypt"' in line and i > 2)

    def tampered(name, edited):
        path = tmp_path / name
        path.write_text("\n".join(edited) + "\n", encoding="utf-8")
        result = verify(audited, str(path))
        assert result.returncode == 1, result.stdout
        return result.stdout

    edited = list(lines)
    edited[target] = edited[target].replace('"Encrypt"', '"Decrypt"')
    assert f"line {target + 1}:" in tampered("edited.log", edited)
    assert "(altered)" in tampered("edited.log", edited)

    deleted = lines[:target] + lines[target + 1:]
    out = tampered("deleted.log", deleted)
    assert "(missing)" in out and f"line {target + 1}:" in out

    reordered = list(lines)
    reordered[target], reordered[target + 1] = reordered[target + 1], reordered[target]
    out = tampered("reordered.log", reordered)
    assert "(missing)" in out or "(reordered)" in out

    wrong_root = audit_verify(audit_file(audited), "--data", str(tmp_path),
                              "--root-key", base64.b64encode(os.urandom(32)).decode())
    # A file whose seals another root made does not verify (once a seal has been written).
    if '"SealAuditChain"' in "\n".join(lines):
        assert wrong_root.returncode == 1 and "forged-seal" in wrong_root.stdout


def test_get_key_last_usage_follows_the_trail_and_survives_a_restart(tmp_path):
    server = Trent(data_dir=tmp_path / "data")
    try:
        kms = server.client()
        key = kms.create_key()["KeyMetadata"]
        fresh = kms.get_key_last_usage(KeyId=key["KeyId"])
        assert "KeyLastUsage" not in fresh
        assert fresh["KeyId"] == key["KeyId"]
        assert fresh["KeyCreationDate"] == key["CreationDate"]
        assert fresh["TrackingStartDate"] == key["CreationDate"]

        encrypted = kms.encrypt(KeyId=key["Arn"], Plaintext=b"hello")
        usage = kms.get_key_last_usage(KeyId=key["Arn"])["KeyLastUsage"]
        assert usage["Operation"] == "Encrypt"
        assert usage["KmsRequestId"] == request_id(encrypted)
        assert usage["CloudTrailEventId"] == by_request_id(server)[request_id(encrypted)]["eventID"]

        with pytest.raises(ClientError):
            kms.decrypt(CiphertextBlob=b"\x01" * 40)  # a failed use does not count
        kms.describe_key(KeyId=key["KeyId"])  # nor does a non-cryptographic one
        assert kms.get_key_last_usage(KeyId=key["KeyId"])["KeyLastUsage"]["Operation"] == "Encrypt"
        decrypted = kms.decrypt(CiphertextBlob=encrypted["CiphertextBlob"])
        usage = kms.get_key_last_usage(KeyId=key["KeyId"])["KeyLastUsage"]
        assert usage["Operation"] == "Decrypt" and usage["KmsRequestId"] == request_id(decrypted)
    finally:
        server.stop(keep_data=True)
    again = Trent(data_dir=tmp_path / "data")
    try:
        usage = again.client().get_key_last_usage(KeyId=key["KeyId"])["KeyLastUsage"]
        assert usage["Operation"] == "Decrypt" and usage["KmsRequestId"] == request_id(decrypted)
        # The chain runs on across the restart.
        result = audit_verify("--data", again.data_dir)
        assert result.returncode == 0, result.stdout + result.stderr
    finally:
        again.stop()


def test_a_request_whose_record_cannot_be_written_is_refused(tmp_path):
    if not os.path.exists("/dev/full"):
        pytest.skip("needs /dev/full to make writes fail")
    data = tmp_path / "data"
    (data / "audit").mkdir(parents=True)
    os.symlink("/dev/full", data / "audit" / "audit.log")
    server = Trent(data_dir=data)
    try:
        with pytest.raises(ClientError) as refused:
            server.client().create_key()
        code, message, status = error_of(refused)
        assert (code, status) == ("KMSInternalException", 500)
        assert "audit" in message
    finally:
        server.stop(keep_data=True)
    lenient = Trent(data_dir=data, extra_args=("--no-audit-required",))
    try:
        assert lenient.client().create_key()["KeyMetadata"]["Enabled"] is True
        assert any("audit record could not be written" in line for line in lenient.output + lenient.errors)
    finally:
        lenient.stop()


def test_the_trail_can_go_to_standard_output(tmp_path):
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if k != "TRENT_STORE"}
    store = ()
    if STORE == "postgres":
        pytest.skip("the stdout sink is store-independent; covered on SQLite")
    process = subprocess.Popen(
        ["node", str(CLI), "serve", "--listen", "127.0.0.1:0", "--data", str(data), "--key-pair-pool", "0",
         "--quotas", "off", "--audit-sink", "stdout", "--audit-seal-interval", "1", *store],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    try:
        url = None
        deadline = time.time() + 30
        while url is None and time.time() < deadline:
            line = process.stderr.readline()
            if line.startswith("{") and json.loads(line).get("msg") == "Trent is listening":
                url = json.loads(line)["url"]
        assert url, "Trent did not start"
        server = Trent.__new__(Trent)
        server.url, server.region, server.credentials_file = url, "us-east-1", str(data / "credentials")
        kms = server.client()
        created = kms.create_key()
        process.terminate()
        out, _ = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
    events = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert any(e.get("requestID") == request_id(created) and e["eventName"] == "CreateKey" for e in events)
    assert events[-1]["eventName"] == "SealAuditChain"  # sealed at shutdown
    assert not (data / "audit").exists()
    shutil.rmtree(data, ignore_errors=True)
