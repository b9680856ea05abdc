"""SigV4 authentication at the edge, with raw HTTP requests signed by botocore's own signer, and
the `trent access-key` admin commands that issue and revoke credentials."""
import datetime
import json
import os
import re
import stat

import pytest
from botocore.exceptions import ClientError

from harness import error_of, read_credentials_file, run_trent_cli

INVALID_TOKEN = "The security token included in the request is invalid."
SIGNATURE_MISMATCH = ("The request signature we calculated does not match the signature you provided. "
                      "Check your AWS Secret Access Key and signing method. "
                      "Consult the service documentation for details.")
AMZ_DATE = r"\d{8}T\d{6}Z"


def list_keys_headers(raw, **sign_options):
    return raw.sign(b"{}", raw.kms_headers("ListKeys"), **sign_options)


def without(headers, name):
    return [(k, v) for k, v in headers if k.lower() != name.lower()]


def replace(headers, name, value):
    return [(k, value if k.lower() == name.lower() else v) for k, v in headers]


def tamper_signature(headers):
    authorization = dict(headers)["Authorization"]
    last = authorization[-1]
    return replace(headers, "Authorization", authorization[:-1] + ("0" if last != "0" else "1"))


# id, build (raw -> (headers, body)), expected __type, expected message (exact string or regex)
AUTH_CASES = [
    ("unknown-access-key",
     lambda raw: (list_keys_headers(raw, access_key_id="AKIAIOSFODNN7EXAMPLE"), b"{}"),
     "UnrecognizedClientException", INVALID_TOKEN),
    ("wrong-secret",
     lambda raw: (list_keys_headers(raw, secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"), b"{}"),
     "InvalidSignatureException", SIGNATURE_MISMATCH),
    ("tampered-signature",
     lambda raw: (tamper_signature(list_keys_headers(raw)), b"{}"),
     "InvalidSignatureException", SIGNATURE_MISMATCH),
    ("body-changed-after-signing",
     lambda raw: (list_keys_headers(raw), b'{"Limit":5}'),
     "InvalidSignatureException", SIGNATURE_MISMATCH),
    ("signed-target-changed",
     lambda raw: (replace(list_keys_headers(raw), "X-Amz-Target", "TrentService.ListAliases"), b"{}"),
     "InvalidSignatureException", SIGNATURE_MISMATCH),
    ("no-authorization-header",
     lambda raw: (without(list_keys_headers(raw), "Authorization"), b"{}"),
     "MissingAuthenticationTokenException", None),
    ("no-headers-at-all",
     lambda raw: ([("Host", raw.host_header)], b"{}"),
     "MissingAuthenticationTokenException", None),
    ("signed-10-minutes-ago",
     lambda raw: (list_keys_headers(raw, clock_offset=datetime.timedelta(minutes=-10)), b"{}"),
     "InvalidSignatureException",
     re.compile(rf"Signature expired: {AMZ_DATE} is now earlier than {AMZ_DATE} \({AMZ_DATE} - 5 min\.\)")),
    ("signed-10-minutes-ahead",
     lambda raw: (list_keys_headers(raw, clock_offset=datetime.timedelta(minutes=10)), b"{}"),
     "InvalidSignatureException",
     re.compile(rf"Signature not yet current: {AMZ_DATE} is still later than {AMZ_DATE} \({AMZ_DATE} \+ 5 min\.\)")),
    ("session-token",
     lambda raw: (list_keys_headers(raw, session_token="FwoGZXIvYXdzEXAMPLETOKEN"), b"{}"),
     "UnrecognizedClientException", INVALID_TOKEN),
    ("signed-for-dynamodb",
     lambda raw: (list_keys_headers(raw, service="dynamodb"), b"{}"),
     "InvalidSignatureException", None),
    ("garbage-authorization",
     lambda raw: (replace(list_keys_headers(raw), "Authorization", "Bearer let-me-in"), b"{}"),
     "IncompleteSignatureException", None),
    ("no-x-amz-date",
     lambda raw: (without(list_keys_headers(raw), "X-Amz-Date"), b"{}"),
     None, None),
]


@pytest.mark.parametrize("build, code, message", [c[1:] for c in AUTH_CASES], ids=[c[0] for c in AUTH_CASES])
def test_requests_that_fail_authentication_get_an_aws_error(raw, build, code, message):
    headers, body = build(raw)
    response = raw.send(headers, body)
    assert 400 <= response.status < 500, response
    assert response.header("Content-Type") == "application/x-amz-json-1.1"
    assert response.header("x-amzn-RequestId"), "no x-amzn-RequestId header"
    payload = response.json()
    assert isinstance(payload.get("__type"), str) and isinstance(payload.get("message"), str), payload
    if code is not None:
        assert payload["__type"] == code, payload
    if isinstance(message, str):
        assert payload["message"] == message
    elif message is not None:
        assert message.fullmatch(payload["message"]), payload["message"]


@pytest.mark.parametrize("minutes", [-4, 4])
def test_a_clock_skew_within_five_minutes_is_accepted(raw, minutes):
    response = raw.call("ListKeys", {}, clock_offset=datetime.timedelta(minutes=minutes))
    assert response.status == 200, response


def test_a_correctly_signed_raw_request_succeeds_with_a_request_id(raw):
    response = raw.call("ListKeys", {"Limit": 1})
    assert response.status == 200, response
    assert response.header("Content-Type") == "application/x-amz-json-1.1"
    assert re.fullmatch(r"[0-9a-f-]{36}", response.header("x-amzn-RequestId"))
    assert set(response.json()) <= {"Keys", "Truncated", "NextMarker"}


def test_every_response_has_its_own_request_id(raw):
    ids = {raw.call("ListKeys", {}).header("x-amzn-RequestId") for _ in range(3)}
    ids |= {raw.call("ListKeys", {}, access_key_id="AKIAIOSFODNN7EXAMPLE").header("x-amzn-RequestId")
            for _ in range(2)}
    assert len(ids) == 5


def test_a_key_is_not_found_from_a_region_other_than_its_own(raw, kms, trent):
    key = kms.create_key()["KeyMetadata"]
    response = raw.call("DescribeKey", {"KeyId": key["KeyId"]}, region="eu-central-1")
    assert response.status == 400
    assert response.json() == {
        "__type": "NotFoundException",
        "message": f"Key 'arn:aws:kms:eu-central-1:{trent.account_id}:key/{key['KeyId']}' does not exist"}


# --- trent access-key ------------------------------------------------------------------------

def test_access_key_create_list_delete_round_trip(trent, kms, tmp_path):
    credentials_file = tmp_path / "alice-credentials"
    created = run_trent_cli("access-key", "create", "--user", "alice", "--data", trent.data_dir,
                            "--credentials-file", str(credentials_file))
    assert created.returncode == 0, created.stderr
    assert stat.S_IMODE(os.stat(credentials_file).st_mode) == 0o600
    profile = read_credentials_file(credentials_file)["trent"]
    access_key_id = profile["aws_access_key_id"]
    alice_arn = f"arn:aws:iam::{trent.account_id}:user/alice"
    assert access_key_id in created.stdout and alice_arn in created.stdout
    assert profile["region"] == "us-east-1"

    alice = trent.client(access_key_id, profile["aws_secret_access_key"])
    with pytest.raises(ClientError) as excinfo:
        alice.create_key(Description="alice's")
    assert error_of(excinfo)[0] == "AccessDeniedException"  # a new user may do nothing yet
    attached = run_trent_cli("identity-policy", "put", "--user", "alice", "--name", "kms-admin", "--data",
                             trent.data_dir, "--document",
                             '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}')
    assert attached.returncode == 0, attached.stderr
    key = alice.create_key(Description="alice's")["KeyMetadata"]
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["Description"] == "alice's"

    listed = run_trent_cli("access-key", "list", "--data", trent.data_dir)
    assert listed.returncode == 0, listed.stderr
    rows = [line.split("\t") for line in listed.stdout.splitlines()]
    assert [access_key_id, alice_arn] in [row[:2] for row in rows]
    assert profile["aws_secret_access_key"] not in listed.stdout
    only_alice = run_trent_cli("access-key", "list", "--data", trent.data_dir, "--user-arn", alice_arn)
    assert [line.split("\t")[0] for line in only_alice.stdout.splitlines()] == [access_key_id]

    deleted = run_trent_cli("access-key", "delete", access_key_id, "--data", trent.data_dir)
    assert deleted.returncode == 0, deleted.stderr
    with pytest.raises(ClientError) as excinfo:
        alice.list_keys()
    assert error_of(excinfo) == ("UnrecognizedClientException", INVALID_TOKEN, 400)
    assert access_key_id not in run_trent_cli("access-key", "list", "--data", trent.data_dir).stdout
    kms.list_keys(Limit=1)  # the admin is unaffected


def test_access_key_create_without_a_file_prints_the_key_as_json(trent):
    created = run_trent_cli("access-key", "create", "--user", "bob", "--data", trent.data_dir)
    assert created.returncode == 0, created.stderr
    issued = json.loads(created.stdout)
    assert set(issued) == {"AccessKeyId", "SecretAccessKey", "Arn"}
    assert issued["Arn"] == f"arn:aws:iam::{trent.account_id}:user/bob"
    with pytest.raises(ClientError) as excinfo:
        trent.client(issued["AccessKeyId"], issued["SecretAccessKey"]).list_keys(Limit=1)
    assert error_of(excinfo)[0] == "AccessDeniedException"  # authenticated, but no policy allows it


def test_access_key_delete_of_an_unknown_key_fails(trent):
    deleted = run_trent_cli("access-key", "delete", "AKIAAAAAAAAAAAAAAAAA", "--data", trent.data_dir)
    assert deleted.returncode == 1
    assert "AKIAAAAAAAAAAAAAAAAA" in deleted.stderr


def test_a_user_of_another_account_cannot_use_this_accounts_keys(trent, kms):
    key = kms.create_key()["KeyMetadata"]
    created = run_trent_cli("access-key", "create", "--user", "mallory", "--account-id", "111122223333",
                            "--data", trent.data_dir)
    assert created.returncode == 0, created.stderr
    issued = json.loads(created.stdout)
    # Even with every KMS permission in her own account, Mallory gets nothing from this one's keys.
    attached = run_trent_cli("identity-policy", "put", "--user", "mallory", "--account-id", "111122223333",
                             "--name", "kms-all", "--data", trent.data_dir, "--document",
                             '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}')
    assert attached.returncode == 0, attached.stderr
    mallory = trent.client(issued["AccessKeyId"], issued["SecretAccessKey"])
    listed = {entry["KeyId"] for entry in mallory.list_keys(Limit=1000)["Keys"]}
    assert key["KeyId"] not in listed
    with pytest.raises(ClientError) as excinfo:
        mallory.describe_key(KeyId=key["KeyId"])
    assert error_of(excinfo)[0] == "NotFoundException"
    with pytest.raises(ClientError) as excinfo:
        mallory.encrypt(KeyId=key["Arn"], Plaintext=b"x")
    assert error_of(excinfo)[0] == "AccessDeniedException"
