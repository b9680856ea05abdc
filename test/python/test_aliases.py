"""CreateAlias, UpdateAlias, DeleteAlias and ListAliases through boto3."""
import datetime

import pytest
from botocore.exceptions import ClientError

from harness import error_of

ALIAS_PATTERN = "^[a-zA-Z0-9:/_-]+$"


def aliases_of(kms, **args):
    """Every alias ListAliases returns (all pages), by name."""
    found, marker = {}, None
    while True:
        page = kms.list_aliases(**args, **({} if marker is None else {"Marker": marker}))
        for entry in page["Aliases"]:
            assert entry["AliasName"] not in found, "an alias was listed twice"
            found[entry["AliasName"]] = entry
        if not page["Truncated"]:
            return found
        marker = page["NextMarker"]


def test_create_alias_lists_the_alias_with_every_field(kms, trent, new_key, unique):
    key = new_key()
    name = unique("alias/orders-")
    before = datetime.datetime.now(datetime.timezone.utc)
    kms.create_alias(AliasName=name, TargetKeyId=key["KeyId"])
    entry = aliases_of(kms)[name]
    assert set(entry) == {"AliasName", "AliasArn", "TargetKeyId", "CreationDate", "LastUpdatedDate"}
    assert entry["AliasArn"] == f"arn:aws:kms:us-east-1:{trent.account_id}:{name}"
    assert entry["TargetKeyId"] == key["KeyId"]
    assert abs((entry["CreationDate"] - before).total_seconds()) < 60
    assert entry["LastUpdatedDate"] == entry["CreationDate"]
    assert kms.describe_key(KeyId=name)["KeyMetadata"]["KeyId"] == key["KeyId"]


@pytest.mark.parametrize("form", ["key_id", "key_arn"])
def test_create_alias_accepts_a_key_id_or_key_arn_as_target(kms, new_key, unique, form):
    key = new_key()
    name = unique("alias/target-")
    kms.create_alias(AliasName=name, TargetKeyId=key["KeyId"] if form == "key_id" else key["Arn"])
    assert aliases_of(kms, KeyId=key["KeyId"])[name]["TargetKeyId"] == key["KeyId"]


def test_update_alias_moves_the_alias_to_another_key(kms, new_key, unique):
    first, second = new_key(), new_key()
    name = unique("alias/moving-")
    kms.create_alias(AliasName=name, TargetKeyId=first["KeyId"])
    created = aliases_of(kms)[name]
    kms.update_alias(AliasName=name, TargetKeyId=second["Arn"])
    updated = aliases_of(kms)[name]
    assert updated["TargetKeyId"] == second["KeyId"]
    assert updated["CreationDate"] == created["CreationDate"]
    assert updated["LastUpdatedDate"] >= created["LastUpdatedDate"]
    assert kms.encrypt(KeyId=name, Plaintext=b"x")["KeyId"] == second["Arn"]
    assert name not in aliases_of(kms, KeyId=first["KeyId"])
    assert name in aliases_of(kms, KeyId=second["KeyId"])


def test_delete_alias_removes_the_alias_but_not_the_key(kms, new_key, unique):
    key = new_key()
    name = unique("alias/doomed-")
    kms.create_alias(AliasName=name, TargetKeyId=key["KeyId"])
    kms.delete_alias(AliasName=name)
    assert name not in aliases_of(kms)
    with pytest.raises(ClientError) as excinfo:
        kms.describe_key(KeyId=name)
    assert error_of(excinfo)[0] == "NotFoundException"
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "Enabled"
    kms.create_alias(AliasName=name, TargetKeyId=key["KeyId"])  # the name is free again


def test_a_key_can_have_several_aliases(kms, new_key, unique):
    key = new_key()
    names = {unique("alias/many-") for _ in range(3)}
    for name in names:
        kms.create_alias(AliasName=name, TargetKeyId=key["KeyId"])
    assert set(aliases_of(kms, KeyId=key["KeyId"])) == names


def test_list_aliases_with_key_id_returns_only_that_keys_aliases(kms, new_key, unique):
    mine, other = new_key(), new_key()
    my_names = {unique("alias/mine-"), unique("alias/mine-")}
    for name in my_names:
        kms.create_alias(AliasName=name, TargetKeyId=mine["KeyId"])
    kms.create_alias(AliasName=unique("alias/other-"), TargetKeyId=other["KeyId"])
    for key_id in (mine["KeyId"], mine["Arn"]):
        listed = aliases_of(kms, KeyId=key_id)
        assert set(listed) == my_names
        assert {entry["TargetKeyId"] for entry in listed.values()} == {mine["KeyId"]}
    assert aliases_of(kms, KeyId=new_key()["KeyId"]) == {}


def test_list_aliases_pages_through_every_alias_exactly_once(kms, new_key, unique):
    key = new_key()
    names = {unique("alias/page-") for _ in range(12)}
    for name in names:
        kms.create_alias(AliasName=name, TargetKeyId=key["KeyId"])
    for args in ({}, {"KeyId": key["KeyId"]}):
        pages, marker = [], None
        while True:
            page = kms.list_aliases(Limit=5, **args, **({} if marker is None else {"Marker": marker}))
            pages.append(page)
            if not page["Truncated"]:
                assert "NextMarker" not in page
                break
            assert len(page["Aliases"]) == 5
            marker = page["NextMarker"]
        listed = [entry["AliasName"] for page in pages for entry in page["Aliases"]]
        assert len(listed) == len(set(listed))
        assert names <= set(listed)
        if args:
            assert set(listed) == names and len(pages) == 3


def test_list_aliases_with_a_bad_marker_is_invalid_marker(kms):
    with pytest.raises(ClientError) as excinfo:
        kms.list_aliases(Marker="not-a-marker")
    assert error_of(excinfo)[0] == "InvalidMarkerException"


def test_list_aliases_for_an_unknown_key_is_not_found(kms):
    with pytest.raises(ClientError) as excinfo:
        kms.list_aliases(KeyId="00000000-1111-4222-8333-444444444444")
    assert error_of(excinfo)[0] == "NotFoundException"


# --- alias names -----------------------------------------------------------------------------

def pattern_error(name):
    return (f"1 validation error detected: Value '{name}' at 'aliasName' failed to satisfy constraint: "
            f"Member must satisfy regular expression pattern: {ALIAS_PATTERN}")


ALIAS_NAME_CASES = [
    # name, error code, exact message or None (code checked only)
    ("ExampleAlias", "ValidationException", None),
    ("aliases/x", "ValidationException", None),
    ("alias/aws/mine", "InvalidAliasNameException", None),
    ("alias/aws/", "InvalidAliasNameException", None),
    ("alias/has space", "ValidationException", pattern_error("alias/has space")),
    ("alias/dot.ted", "ValidationException", pattern_error("alias/dot.ted")),
    ("alias/ünïcode", "ValidationException", pattern_error("alias/ünïcode")),
    ("alias/" + "a" * 251, "ValidationException",
     "1 validation error detected: Value '" + "alias/" + "a" * 251 + "' at 'aliasName' failed to satisfy "
     "constraint: Member must have length less than or equal to 256"),
]


@pytest.mark.parametrize("name, code, message", ALIAS_NAME_CASES, ids=[c[0][:24] for c in ALIAS_NAME_CASES])
def test_create_alias_refuses_bad_names(kms, new_key, name, code, message):
    key = new_key()
    with pytest.raises(ClientError) as excinfo:
        kms.create_alias(AliasName=name, TargetKeyId=key["KeyId"])
    got_code, got_message, status = error_of(excinfo)
    assert (got_code, status) == (code, 400)
    if message is not None:
        assert got_message == message
    assert aliases_of(kms, KeyId=key["KeyId"]) == {}


@pytest.mark.parametrize("operation", ["CreateAlias", "UpdateAlias", "DeleteAlias"])
def test_alias_names_must_start_with_the_alias_prefix(kms, new_key, operation):
    key_id = new_key()["KeyId"]
    calls = {
        "CreateAlias": lambda: kms.create_alias(AliasName="ExampleAlias", TargetKeyId=key_id),
        "UpdateAlias": lambda: kms.update_alias(AliasName="ExampleAlias", TargetKeyId=key_id),
        "DeleteAlias": lambda: kms.delete_alias(AliasName="ExampleAlias"),
    }
    with pytest.raises(ClientError) as excinfo:
        calls[operation]()
    code, message, status = error_of(excinfo)
    assert (code, status) == ("ValidationException", 400)
    assert message.startswith('Alias must start with the prefix "alias/".')


@pytest.mark.parametrize("name", ["alias/a:b", "alias/arn:aws:kms"])
def test_alias_names_with_a_colon_are_refused(kms, new_key, unique, name):
    key = new_key()
    name = f"{name}-{unique()}"
    with pytest.raises(ClientError) as excinfo:
        kms.create_alias(AliasName=name, TargetKeyId=key["KeyId"])
    code, _, status = error_of(excinfo)
    assert code in {"ValidationException", "InvalidAliasNameException"} and status == 400
    assert aliases_of(kms, KeyId=key["KeyId"]) == {}


def test_alias_names_of_exactly_256_characters_are_accepted(kms, new_key):
    name = "alias/" + new_key()["KeyId"][:8] + "b" * 242
    assert len(name) == 256
    kms.create_alias(AliasName=name, TargetKeyId=new_key()["KeyId"])


def test_create_alias_with_an_existing_name_is_already_exists(kms, trent, new_key, unique):
    first, second = new_key(), new_key()
    name = unique("alias/taken-")
    kms.create_alias(AliasName=name, TargetKeyId=first["KeyId"])
    with pytest.raises(ClientError) as excinfo:
        kms.create_alias(AliasName=name, TargetKeyId=second["KeyId"])
    alias_arn = f"arn:aws:kms:us-east-1:{trent.account_id}:{name}"
    assert error_of(excinfo) == ("AlreadyExistsException", f"An alias with the name {alias_arn} already exists", 400)
    assert aliases_of(kms)[name]["TargetKeyId"] == first["KeyId"]


def test_create_alias_for_an_unknown_key_is_not_found(kms, unique):
    with pytest.raises(ClientError) as excinfo:
        kms.create_alias(AliasName=unique("alias/orphan-"), TargetKeyId="00000000-1111-4222-8333-444444444444")
    assert error_of(excinfo)[0] == "NotFoundException"


@pytest.mark.parametrize("operation", ["DeleteAlias", "UpdateAlias"])
def test_deleting_or_updating_a_missing_alias_is_not_found(kms, trent, new_key, unique, operation):
    name = unique("alias/missing-")
    with pytest.raises(ClientError) as excinfo:
        if operation == "DeleteAlias":
            kms.delete_alias(AliasName=name)
        else:
            kms.update_alias(AliasName=name, TargetKeyId=new_key()["KeyId"])
    alias_arn = f"arn:aws:kms:us-east-1:{trent.account_id}:{name}"
    assert error_of(excinfo) == ("NotFoundException", f"Alias {alias_arn} is not found.", 400)


# --- aliases and key states ------------------------------------------------------------------

def test_create_alias_for_a_key_pending_deletion_is_invalid_state(kms, new_key, unique):
    key = new_key()
    kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    with pytest.raises(ClientError) as excinfo:
        kms.create_alias(AliasName=unique("alias/late-"), TargetKeyId=key["KeyId"])
    assert error_of(excinfo) == ("KMSInvalidStateException", f"{key['Arn']} is pending deletion.", 400)


def test_create_alias_for_a_disabled_key_succeeds(kms, new_key, unique):
    key = new_key()
    kms.disable_key(KeyId=key["KeyId"])
    name = unique("alias/off-")
    kms.create_alias(AliasName=name, TargetKeyId=key["KeyId"])
    assert aliases_of(kms)[name]["TargetKeyId"] == key["KeyId"]


def test_update_alias_to_a_key_pending_deletion_is_invalid_state(kms, new_key, unique):
    current, doomed = new_key(), new_key()
    name = unique("alias/stay-")
    kms.create_alias(AliasName=name, TargetKeyId=current["KeyId"])
    kms.schedule_key_deletion(KeyId=doomed["KeyId"], PendingWindowInDays=7)
    with pytest.raises(ClientError) as excinfo:
        kms.update_alias(AliasName=name, TargetKeyId=doomed["KeyId"])
    assert error_of(excinfo) == ("KMSInvalidStateException", f"{doomed['Arn']} is pending deletion.", 400)
    assert aliases_of(kms)[name]["TargetKeyId"] == current["KeyId"]


def test_update_alias_away_from_a_key_pending_deletion_succeeds(kms, new_key, unique):
    doomed, rescue = new_key(), new_key()
    name = unique("alias/rescue-")
    kms.create_alias(AliasName=name, TargetKeyId=doomed["KeyId"])
    kms.schedule_key_deletion(KeyId=doomed["KeyId"], PendingWindowInDays=7)
    kms.update_alias(AliasName=name, TargetKeyId=rescue["KeyId"])
    assert aliases_of(kms)[name]["TargetKeyId"] == rescue["KeyId"]


def test_delete_alias_of_a_key_pending_deletion_succeeds(kms, new_key, unique):
    key = new_key()
    name = unique("alias/gone-")
    kms.create_alias(AliasName=name, TargetKeyId=key["KeyId"])
    kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    kms.delete_alias(AliasName=name)
    assert name not in aliases_of(kms)


def test_an_alias_of_a_key_pending_deletion_still_resolves_for_describe_but_refuses_encrypt(kms, new_key, unique):
    key = new_key()
    name = unique("alias/pending-")
    kms.create_alias(AliasName=name, TargetKeyId=key["KeyId"])
    kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    assert kms.describe_key(KeyId=name)["KeyMetadata"]["KeyState"] == "PendingDeletion"
    with pytest.raises(ClientError) as excinfo:
        kms.encrypt(KeyId=name, Plaintext=b"x")
    assert error_of(excinfo)[0] == "KMSInvalidStateException"
