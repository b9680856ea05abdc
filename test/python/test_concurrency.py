"""Many clients at once: every request is answered correctly, and per-key limits and unique names
hold when requests race each other."""
from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.exceptions import ClientError

THREADS = 8


@pytest.fixture(scope="module")
def clients(trent):
    """One boto3 client per thread (clients are cheap to share across tests, slow to create)."""
    return [trent.client() for _ in range(THREADS)]


def run_concurrently(clients, task, count):
    """Runs task(client, i) for i in range(count) on THREADS threads, each with its own boto3
    client; returns each call's result or the error code it raised."""
    def one(i):
        try:
            return task(clients[i % THREADS], i)
        except ClientError as error:
            return error.response["Error"]["Code"]
    # Calls i and i + THREADS share a client, so each worker runs the calls of one client in turn.
    with ThreadPoolExecutor(THREADS) as pool:
        per_client = pool.map(lambda c: [(i, one(i)) for i in range(c, count, THREADS)], range(THREADS))
        results = dict(pair for chunk in per_client for pair in chunk)
    return [results[i] for i in range(count)]


def test_concurrent_encrypt_and_decrypt_round_trips_all_succeed(clients, new_key):
    key_id = new_key()["KeyId"]

    def round_trip(client, i):
        plaintext = f"message {i}".encode()
        blob = client.encrypt(KeyId=key_id, Plaintext=plaintext, EncryptionContext={"i": str(i)})["CiphertextBlob"]
        return client.decrypt(CiphertextBlob=blob, EncryptionContext={"i": str(i)})["Plaintext"] == plaintext

    assert run_concurrently(clients, round_trip, 48) == [True] * 48


def test_racing_create_alias_calls_create_the_alias_exactly_once(clients, kms, new_key, unique):
    key_ids = [new_key()["KeyId"] for _ in range(3)]
    name = unique("alias/race-")
    outcomes = run_concurrently(
        clients, lambda client, i: client.create_alias(AliasName=name, TargetKeyId=key_ids[i % 3]) and "created", 24)
    assert outcomes.count("created") == 1
    assert outcomes.count("AlreadyExistsException") == 23
    target = kms.describe_key(KeyId=name)["KeyMetadata"]["KeyId"]
    assert target in key_ids


def test_racing_tag_resource_calls_never_exceed_fifty_tags(clients, kms, new_key):
    key_id = new_key()["KeyId"]
    outcomes = run_concurrently(
        clients,
        lambda client, i: client.tag_resource(KeyId=key_id, Tags=[{"TagKey": f"t{i}-{j}", "TagValue": "v"}
                                                                   for j in range(5)]) and "tagged",
        20)
    tags = kms.list_resource_tags(KeyId=key_id, Limit=50)
    assert tags["Truncated"] is False
    assert set(outcomes) <= {"tagged", "LimitExceededException"}
    assert len(tags["Tags"]) == 5 * outcomes.count("tagged") == 50


def test_racing_key_creation_gives_distinct_keys_all_listed(clients, kms):
    created = run_concurrently(clients, lambda client, i: client.create_key()["KeyMetadata"]["KeyId"], 24)
    assert len(set(created)) == 24
    listed, marker = set(), None
    while True:
        page = kms.list_keys(Limit=1000, **({} if marker is None else {"Marker": marker}))
        listed |= {entry["KeyId"] for entry in page["Keys"]}
        if not page["Truncated"]:
            break
        marker = page["NextMarker"]
    assert set(created) <= listed
