"""Request-rate quotas seen from boto3: over the quota a request gets AWS's ThrottlingException,
another account keeps its own quota, and boto3's default retries ride the throttling out."""
import json
import time
from concurrent.futures import ThreadPoolExecutor

import botocore.config
import pytest
from botocore.exceptions import ClientError

from harness import Trent, read_credentials_file, run_trent_cli

THROTTLED = ("ThrottlingException",
             "You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls.", 400)
OTHER_ACCOUNT = "444455556666"


@pytest.fixture(scope="module")
def limited(tmp_path_factory):
    """A Trent whose accounts may create 1 key and make 5 symmetric cryptographic requests per
    second, except OTHER_ACCOUNT, which may create 4 keys."""
    quota_file = tmp_path_factory.mktemp("quotas") / "quotas.json"
    quota_file.write_text(json.dumps({"rates": {"CreateKey": 1, "Cryptographic operations (symmetric)": 5},
                                      "accounts": {OTHER_ACCOUNT: {"CreateKey": 4}}}))
    server = Trent(quotas=quota_file)
    yield server
    server.stop()


def other_account_client(trent, tmp_path):
    credentials_file = tmp_path / "bob-credentials"
    principal = ("--user", "bob", "--account-id", OTHER_ACCOUNT, "--data", trent.data_dir)
    created = run_trent_cli("access-key", "create", *principal, "--credentials-file", str(credentials_file))
    assert created.returncode == 0, created.stderr
    attached = run_trent_cli("identity-policy", "put", *principal, "--name", "kms-admin", "--document",
                             '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}')
    assert attached.returncode == 0, attached.stderr
    profile = read_credentials_file(credentials_file)["trent"]
    return trent.client(profile["aws_access_key_id"], profile["aws_secret_access_key"])


def outcomes(call, count):
    """Runs `call` `count` times at once; the list of error tuples (None for a success)."""
    def attempt(_):
        try:
            call()
            return None
        except ClientError as error:
            return (error.response["Error"]["Code"], error.response["Error"].get("Message", ""),
                    error.response["ResponseMetadata"]["HTTPStatusCode"])
    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(attempt, range(count)))


def test_a_burst_over_the_quota_is_throttled_while_other_accounts_and_classes_are_not(limited, tmp_path):
    bob = other_account_client(limited, tmp_path)
    admin = limited.client()  # retries off
    started = time.monotonic()
    answers = outcomes(lambda: admin.create_key(Description="burst"), 6)
    allowed = 1 + int(time.monotonic() - started)  # the burst, and what refilled while it ran
    assert 1 <= answers.count(None) <= allowed, answers
    assert [a for a in answers if a is not None] == [THROTTLED] * (6 - answers.count(None))
    admin.list_keys(Limit=1)  # another class of the same account
    bob_answers = outcomes(lambda: bob.create_key(Description="bob's"), 4)  # another account, with its own rate
    assert bob_answers == [None] * 4


def test_boto3_with_its_default_retries_gets_every_request_through(limited):
    patient = limited.client(config=botocore.config.Config(read_timeout=30))
    retried = 0
    for _ in range(7):  # GenerateRandom counts against the symmetric quota: a burst of 5, then 5 a second
        answer = patient.generate_random(NumberOfBytes=16)
        assert len(answer["Plaintext"]) == 16
        retried += answer["ResponseMetadata"]["RetryAttempts"]
    assert retried > 0, "7 requests at 5 a second cannot all have gone through at the first attempt"
