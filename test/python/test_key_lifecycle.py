"""The life of a KMS key through boto3: create, describe, enable/disable, schedule and cancel
deletion, describe changes, listing, and every way a KeyId can name a key."""
import datetime
import re

import pytest
from botocore.exceptions import ClientError

from harness import error_of

# The fields AWS returns for a fresh single-Region SYMMETRIC_DEFAULT key (LocalStack snapshot of
# real AWS, plus CurrentKeyMaterialId which AWS added in 2025).
FRESH_SYMMETRIC_KEY_FIELDS = {
    "AWSAccountId", "KeyId", "Arn", "CreationDate", "Enabled", "Description", "KeyUsage", "KeyState",
    "Origin", "KeyManager", "CustomerMasterKeySpec", "KeySpec", "EncryptionAlgorithms", "MultiRegion",
    "CurrentKeyMaterialId",
}
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def now():
    return datetime.datetime.now(datetime.timezone.utc)


def describe(kms, key_id):
    return kms.describe_key(KeyId=key_id)["KeyMetadata"]


# --- CreateKey and DescribeKey ---------------------------------------------------------------

def test_describe_key_returns_every_field_aws_returns_for_a_fresh_symmetric_key(kms, trent):
    created = kms.create_key()["KeyMetadata"]
    described = describe(kms, created["KeyId"])
    assert described == created
    assert set(described) == FRESH_SYMMETRIC_KEY_FIELDS
    assert re.fullmatch(r"\d{12}", described["AWSAccountId"])
    assert described["AWSAccountId"] == trent.account_id
    assert re.fullmatch(UUID, described["KeyId"])
    assert described["Arn"] == f"arn:aws:kms:us-east-1:{described['AWSAccountId']}:key/{described['KeyId']}"
    assert abs((now() - described["CreationDate"]).total_seconds()) < 60
    assert described["Enabled"] is True
    assert described["Description"] == ""
    assert described["KeyUsage"] == "ENCRYPT_DECRYPT"
    assert described["KeyState"] == "Enabled"
    assert described["Origin"] == "AWS_KMS"
    assert described["KeyManager"] == "CUSTOMER"
    assert described["KeySpec"] == described["CustomerMasterKeySpec"] == "SYMMETRIC_DEFAULT"
    assert described["EncryptionAlgorithms"] == ["SYMMETRIC_DEFAULT"]
    assert described["MultiRegion"] is False
    assert re.fullmatch(r"[0-9a-f]{64}", described["CurrentKeyMaterialId"])


def test_create_key_keeps_description_and_tags(kms):
    tags = [{"TagKey": "team", "TagValue": "payments"}, {"TagKey": "empty", "TagValue": ""}]
    created = kms.create_key(Description="orders database", Tags=tags)["KeyMetadata"]
    assert created["Description"] == "orders database"
    assert describe(kms, created["KeyId"])["Description"] == "orders database"
    listed = kms.list_resource_tags(KeyId=created["KeyId"])["Tags"]
    assert sorted(listed, key=lambda t: t["TagKey"]) == sorted(tags, key=lambda t: t["TagKey"])


def test_every_key_gets_its_own_id_and_key_material(kms):
    first, second = kms.create_key()["KeyMetadata"], kms.create_key()["KeyMetadata"]
    assert first["KeyId"] != second["KeyId"]
    assert first["CurrentKeyMaterialId"] != second["CurrentKeyMaterialId"]


# --- EnableKey / DisableKey and key states ---------------------------------------------------

def test_disable_and_enable_key_switch_state_and_enabled_flag(kms, new_key):
    key_id = new_key()["KeyId"]
    kms.disable_key(KeyId=key_id)
    assert (describe(kms, key_id)["KeyState"], describe(kms, key_id)["Enabled"]) == ("Disabled", False)
    kms.disable_key(KeyId=key_id)  # idempotent
    assert describe(kms, key_id)["KeyState"] == "Disabled"
    kms.enable_key(KeyId=key_id)
    assert (describe(kms, key_id)["KeyState"], describe(kms, key_id)["Enabled"]) == ("Enabled", True)
    kms.enable_key(KeyId=key_id)  # idempotent
    assert describe(kms, key_id)["KeyState"] == "Enabled"


def test_a_disabled_key_refuses_encryption_and_decrypts_again_once_enabled(kms, new_key):
    key = new_key()
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"secret")["CiphertextBlob"]
    kms.disable_key(KeyId=key["KeyId"])
    for call in (lambda: kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x"),
                 lambda: kms.decrypt(CiphertextBlob=blob),
                 lambda: kms.generate_data_key(KeyId=key["KeyId"], KeySpec="AES_256")):
        with pytest.raises(ClientError) as excinfo:
            call()
        assert error_of(excinfo) == ("DisabledException", f"{key['Arn']} is disabled.", 400)
    kms.enable_key(KeyId=key["KeyId"])
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"secret"


# AWS "Key states of KMS keys": what each operation does with a Disabled and a PendingDeletion key.
# None means the operation succeeds; otherwise (error code, message after the key ARN).
DISABLED = ("DisabledException", " is disabled.")
PENDING = ("KMSInvalidStateException", " is pending deletion.")
NOT_PENDING = ("KMSInvalidStateException", " is not pending deletion.")
KEY_STATE_TABLE = [
    # operation, call, Disabled, PendingDeletion
    ("Encrypt", lambda kms, k: kms.encrypt(KeyId=k, Plaintext=b"x"), DISABLED, PENDING),
    ("GenerateDataKey", lambda kms, k: kms.generate_data_key(KeyId=k, KeySpec="AES_128"), DISABLED, PENDING),
    ("GenerateDataKeyWithoutPlaintext",
     lambda kms, k: kms.generate_data_key_without_plaintext(KeyId=k, NumberOfBytes=16), DISABLED, PENDING),
    ("GenerateDataKeyPairWithoutPlaintext",
     lambda kms, k: kms.generate_data_key_pair_without_plaintext(KeyId=k, KeyPairSpec="ECC_NIST_P256"),
     DISABLED, PENDING),
    ("DescribeKey", lambda kms, k: kms.describe_key(KeyId=k), None, None),
    ("ListResourceTags", lambda kms, k: kms.list_resource_tags(KeyId=k), None, None),
    ("ListAliases", lambda kms, k: kms.list_aliases(KeyId=k), None, None),
    ("TagResource", lambda kms, k: kms.tag_resource(KeyId=k, Tags=[{"TagKey": "a", "TagValue": "b"}]),
     None, PENDING),
    ("UntagResource", lambda kms, k: kms.untag_resource(KeyId=k, TagKeys=["a"]), None, PENDING),
    ("UpdateKeyDescription", lambda kms, k: kms.update_key_description(KeyId=k, Description="d"),
     None, PENDING),
    ("CreateAlias", lambda kms, k: kms.create_alias(AliasName=f"alias/state-{k}", TargetKeyId=k),
     None, PENDING),
    ("DisableKey", lambda kms, k: kms.disable_key(KeyId=k), None, PENDING),
    ("ScheduleKeyDeletion", lambda kms, k: kms.schedule_key_deletion(KeyId=k, PendingWindowInDays=7),
     None, PENDING),
    ("CancelKeyDeletion", lambda kms, k: kms.cancel_key_deletion(KeyId=k), NOT_PENDING, None),
    ("EnableKey", lambda kms, k: kms.enable_key(KeyId=k), None, PENDING),
]


@pytest.mark.parametrize("state", ["Disabled", "PendingDeletion"])
@pytest.mark.parametrize("operation, call, when_disabled, when_pending", KEY_STATE_TABLE,
                         ids=[row[0] for row in KEY_STATE_TABLE])
def test_operations_follow_the_aws_key_state_table(kms, new_key, state, operation, call, when_disabled,
                                                   when_pending):
    key = new_key()
    if state == "Disabled":
        kms.disable_key(KeyId=key["KeyId"])
    else:
        kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    expected = when_disabled if state == "Disabled" else when_pending
    if expected is None:
        call(kms, key["KeyId"])
        return
    with pytest.raises(ClientError) as excinfo:
        call(kms, key["KeyId"])
    code, message, status = error_of(excinfo)
    assert (code, message, status) == (expected[0], key["Arn"] + expected[1], 400)
    assert describe(kms, key["KeyId"])["KeyState"] == state


# --- ScheduleKeyDeletion / CancelKeyDeletion -------------------------------------------------

@pytest.mark.parametrize("window", [7, 15, 30, None], ids=["7", "15", "30", "default"])
def test_schedule_key_deletion_puts_the_key_in_pending_deletion_for_the_window(kms, new_key, window):
    key = new_key()
    args = {} if window is None else {"PendingWindowInDays": window}
    before = now()
    response = kms.schedule_key_deletion(KeyId=key["KeyId"], **args)
    days = 30 if window is None else window
    assert response["KeyId"] == key["Arn"]
    assert response["KeyState"] == "PendingDeletion"
    assert response["PendingWindowInDays"] == days
    expected_date = before + datetime.timedelta(days=days)
    assert abs((response["DeletionDate"] - expected_date).total_seconds()) < 60

    described = describe(kms, key["KeyId"])
    assert described["KeyState"] == "PendingDeletion"
    assert described["Enabled"] is False
    assert described["DeletionDate"] == response["DeletionDate"]


def test_describe_key_of_a_single_region_key_pending_deletion_has_a_deletion_date_but_no_window(kms, new_key):
    key = new_key()
    kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    described = describe(kms, key["KeyId"])
    assert set(described) == FRESH_SYMMETRIC_KEY_FIELDS | {"DeletionDate"}


@pytest.mark.parametrize("window", [6, 31, 1, 365])
def test_schedule_key_deletion_outside_7_to_30_days_is_a_validation_error(kms, new_key, window):
    key = new_key()
    with pytest.raises(ClientError) as excinfo:
        kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=window)
    code, _, status = error_of(excinfo)
    assert (code, status) == ("ValidationException", 400)
    assert describe(kms, key["KeyId"])["KeyState"] == "Enabled"


@pytest.mark.parametrize("window", [0, 366])
def test_schedule_key_deletion_outside_the_shape_range_names_the_member(kms_unchecked, new_key, window):
    with pytest.raises(ClientError) as excinfo:
        kms_unchecked.schedule_key_deletion(KeyId=new_key()["KeyId"], PendingWindowInDays=window)
    code, message, _ = error_of(excinfo)
    assert code == "ValidationException"
    assert message.startswith(f"1 validation error detected: Value '{window}' at 'pendingWindowInDays' "
                              "failed to satisfy constraint: Member must have value ")


def test_cancel_key_deletion_leaves_the_key_disabled_without_a_deletion_date(kms, new_key):
    key = new_key()
    kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    assert kms.cancel_key_deletion(KeyId=key["KeyId"])["KeyId"] == key["Arn"]
    described = describe(kms, key["KeyId"])
    assert described["KeyState"] == "Disabled"
    assert described["Enabled"] is False
    assert "DeletionDate" not in described
    assert "PendingDeletionWindowInDays" not in described
    kms.enable_key(KeyId=key["KeyId"])
    assert kms.encrypt(KeyId=key["KeyId"], Plaintext=b"back")["KeyId"] == key["Arn"]


def test_a_disabled_key_can_be_scheduled_for_deletion_and_cancelled(kms, new_key):
    key = new_key()
    kms.disable_key(KeyId=key["KeyId"])
    kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    kms.cancel_key_deletion(KeyId=key["KeyId"])
    assert describe(kms, key["KeyId"])["KeyState"] == "Disabled"


# --- UpdateKeyDescription --------------------------------------------------------------------

@pytest.mark.parametrize("description", ["new text", "", "ü" * 8192])
def test_update_key_description_replaces_the_description(kms, new_key, description):
    key = new_key(Description="old text")
    kms.update_key_description(KeyId=key["KeyId"], Description=description)
    assert describe(kms, key["KeyId"])["Description"] == description


# --- ListKeys --------------------------------------------------------------------------------

def walk_pages(call, items_field, limit, **args):
    pages, marker = [], None
    while True:
        page = call(Limit=limit, **args, **({} if marker is None else {"Marker": marker}))
        pages.append(page)
        if not page["Truncated"]:
            assert "NextMarker" not in page
            return pages
        assert page["NextMarker"]
        assert len(page[items_field]) == limit
        marker = page["NextMarker"]


def test_list_keys_pages_through_every_key_exactly_once(kms, trent):
    created = {kms.create_key()["KeyMetadata"]["KeyId"] for _ in range(23)}
    pages = walk_pages(kms.list_keys, "Keys", 5)
    listed = [entry["KeyId"] for page in pages for entry in page["Keys"]]
    assert len(listed) == len(set(listed)), "a key was listed twice"
    assert created <= set(listed), "a key is missing"
    assert len(pages) >= 5
    for page in pages:
        for entry in page["Keys"]:
            assert entry["KeyArn"] == f"arn:aws:kms:us-east-1:{trent.account_id}:key/{entry['KeyId']}"
    everything = kms.list_keys(Limit=1000)
    assert everything["Truncated"] is False
    assert [entry["KeyId"] for entry in everything["Keys"]] == listed


def test_boto3_paginators_walk_every_page_of_keys_aliases_and_tags(kms, new_key, unique):
    key = new_key(Tags=[{"TagKey": f"t{i}", "TagValue": "v"} for i in range(11)])
    aliases = {unique("alias/paged-") for _ in range(7)}
    for name in aliases:
        kms.create_alias(AliasName=name, TargetKeyId=key["KeyId"])
    config = {"PageSize": 3}
    keys = [k["KeyId"] for page in kms.get_paginator("list_keys").paginate(PaginationConfig=config)
            for k in page["Keys"]]
    assert key["KeyId"] in keys and len(keys) == len(set(keys))
    listed_aliases = [a["AliasName"] for page in kms.get_paginator("list_aliases").paginate(
        KeyId=key["KeyId"], PaginationConfig=config) for a in page["Aliases"]]
    assert sorted(listed_aliases) == sorted(aliases)
    tag_pages = list(kms.get_paginator("list_resource_tags").paginate(KeyId=key["KeyId"], PaginationConfig=config))
    assert len(tag_pages) == 4
    assert sorted(t["TagKey"] for page in tag_pages for t in page["Tags"]) == sorted(f"t{i}" for i in range(11))


def test_aws_cli_list_keys_follows_next_marker_to_the_end(aws, kms):
    everything = {k["KeyId"] for k in kms.list_keys(Limit=1000)["Keys"]}
    listed = [k["KeyId"] for k in aws("list-keys", "--page-size", "7")["Keys"]]
    assert len(listed) == len(set(listed))
    assert everything <= set(listed)


def test_list_keys_without_limit_returns_up_to_100(kms):
    page = kms.list_keys()
    assert len(page["Keys"]) <= 100
    assert page["Truncated"] == (len(page["Keys"]) == 100 and "NextMarker" in page)


def test_list_keys_includes_keys_pending_deletion_and_disabled(kms, new_key):
    disabled, pending = new_key()["KeyId"], new_key()["KeyId"]
    kms.disable_key(KeyId=disabled)
    kms.schedule_key_deletion(KeyId=pending, PendingWindowInDays=7)
    listed = {entry["KeyId"] for page in walk_pages(kms.list_keys, "Keys", 1000) for entry in page["Keys"]}
    assert {disabled, pending} <= listed


@pytest.mark.parametrize("marker", ["garbage", "dHJlbnQxOg==", "AAAA", "x" * 1024])
def test_list_keys_with_a_marker_it_did_not_issue_is_invalid_marker(kms, marker):
    with pytest.raises(ClientError) as excinfo:
        kms.list_keys(Marker=marker)
    code, _, status = error_of(excinfo)
    assert (code, status) == ("InvalidMarkerException", 400)


# --- KeyId forms -----------------------------------------------------------------------------

@pytest.fixture
def aliased_key(kms):
    """A new key with an alias, and the four ways of naming it."""
    metadata = kms.create_key(Description="named four ways")["KeyMetadata"]
    alias_name = f"alias/four-ways-{metadata['KeyId']}"
    kms.create_alias(AliasName=alias_name, TargetKeyId=metadata["KeyId"])
    alias_arn = metadata["Arn"].split(":key/")[0] + ":" + alias_name
    forms = {"key_id": metadata["KeyId"], "key_arn": metadata["Arn"], "alias_name": alias_name,
             "alias_arn": alias_arn}
    return metadata, forms


KEY_ID_FORMS = ["key_id", "key_arn", "alias_name", "alias_arn"]


@pytest.mark.parametrize("form", KEY_ID_FORMS)
def test_describe_key_accepts_every_key_id_form(kms, aliased_key, form):
    metadata, forms = aliased_key
    assert describe(kms, forms[form]) == describe(kms, metadata["KeyId"])


@pytest.mark.parametrize("form", KEY_ID_FORMS)
def test_encrypt_accepts_every_key_id_form_and_decrypt_finds_the_key(kms, aliased_key, form):
    metadata, forms = aliased_key
    encrypted = kms.encrypt(KeyId=forms[form], Plaintext=b"four ways")
    assert encrypted["KeyId"] == metadata["Arn"]
    assert encrypted["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    decrypted = kms.decrypt(CiphertextBlob=encrypted["CiphertextBlob"], KeyId=forms[form])
    assert (decrypted["Plaintext"], decrypted["KeyId"]) == (b"four ways", metadata["Arn"])


# Operations whose KeyId is documented as "key ID or key ARN" only.
ID_OR_ARN_ONLY = [
    ("EnableKey", lambda kms, k: kms.enable_key(KeyId=k)),
    ("DisableKey", lambda kms, k: kms.disable_key(KeyId=k)),
    ("ScheduleKeyDeletion", lambda kms, k: kms.schedule_key_deletion(KeyId=k, PendingWindowInDays=7)),
    ("CancelKeyDeletion", lambda kms, k: kms.cancel_key_deletion(KeyId=k)),
    ("UpdateKeyDescription", lambda kms, k: kms.update_key_description(KeyId=k, Description="d")),
    ("TagResource", lambda kms, k: kms.tag_resource(KeyId=k, Tags=[{"TagKey": "a", "TagValue": "b"}])),
    ("UntagResource", lambda kms, k: kms.untag_resource(KeyId=k, TagKeys=["a"])),
    ("ListResourceTags", lambda kms, k: kms.list_resource_tags(KeyId=k)),
    ("ListAliases", lambda kms, k: kms.list_aliases(KeyId=k)),
]


# AWS documents these KeyId members as "key ID or key ARN" and refuses alias spellings; issue 2 asks
# that every KeyId accept all four spellings, so Trent resolves alias names and alias ARNs here too.
@pytest.mark.parametrize("operation, call", ID_OR_ARN_ONLY, ids=[row[0] for row in ID_OR_ARN_ONLY])
@pytest.mark.parametrize("form", ["alias_name", "alias_arn"])
def test_id_or_arn_operations_also_accept_alias_spellings(kms, aliased_key, operation, call, form):
    metadata, forms = aliased_key
    if operation == "CancelKeyDeletion":
        kms.schedule_key_deletion(KeyId=metadata["KeyId"], PendingWindowInDays=7)
    call(kms, forms[form])
    if operation == "ScheduleKeyDeletion":
        assert describe(kms, metadata["KeyId"])["KeyState"] == "PendingDeletion"
        kms.cancel_key_deletion(KeyId=metadata["KeyId"])
    if operation in ("CancelKeyDeletion", "ScheduleKeyDeletion", "DisableKey"):
        kms.enable_key(KeyId=metadata["KeyId"])


@pytest.mark.parametrize("operation, call", ID_OR_ARN_ONLY, ids=[row[0] for row in ID_OR_ARN_ONLY])
def test_id_or_arn_only_operations_accept_the_key_arn(kms, new_key, operation, call):
    key = new_key()
    if operation == "CancelKeyDeletion":
        kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    call(kms, key["Arn"])


UNKNOWN_KEY = "00000000-1111-4222-8333-444444444444"
ANY_KEY_OPERATIONS = ID_OR_ARN_ONLY + [
    ("DescribeKey", lambda kms, k: kms.describe_key(KeyId=k)),
    ("Encrypt", lambda kms, k: kms.encrypt(KeyId=k, Plaintext=b"x")),
    ("GenerateDataKey", lambda kms, k: kms.generate_data_key(KeyId=k, KeySpec="AES_256")),
]


@pytest.mark.parametrize("operation, call", ANY_KEY_OPERATIONS, ids=[row[0] for row in ANY_KEY_OPERATIONS])
@pytest.mark.parametrize("form", ["key_id", "key_arn"])
def test_an_unknown_key_is_not_found_with_its_arn_in_the_message(kms, trent, operation, call, form):
    arn = f"arn:aws:kms:us-east-1:{trent.account_id}:key/{UNKNOWN_KEY}"
    with pytest.raises(ClientError) as excinfo:
        call(kms, UNKNOWN_KEY if form == "key_id" else arn)
    assert error_of(excinfo) == ("NotFoundException", f"Key '{arn}' does not exist", 400)


@pytest.mark.parametrize("key_id", ["not-a-key", "1234abcd12ab34cd56ef1234567890ab", "key/" + UNKNOWN_KEY])
def test_a_key_id_that_is_no_key_id_form_is_invalid_key_id(kms, key_id):
    with pytest.raises(ClientError) as excinfo:
        kms.describe_key(KeyId=key_id)
    assert error_of(excinfo) == ("NotFoundException", f"Invalid keyId '{key_id}'", 400)


@pytest.mark.parametrize("form", ["alias_name", "alias_arn"])
def test_an_unknown_alias_is_not_found_with_the_alias_arn_in_the_message(kms, trent, form):
    alias_arn = f"arn:aws:kms:us-east-1:{trent.account_id}:alias/no-such-alias"
    with pytest.raises(ClientError) as excinfo:
        kms.describe_key(KeyId="alias/no-such-alias" if form == "alias_name" else alias_arn)
    assert error_of(excinfo) == ("NotFoundException", f"Alias {alias_arn} is not found.", 400)


def test_a_key_arn_for_another_region_is_not_found(kms, aliased_key):
    metadata, _ = aliased_key
    other_region = metadata["Arn"].replace(":us-east-1:", ":ap-southeast-1:")
    with pytest.raises(ClientError) as excinfo:
        kms.describe_key(KeyId=other_region)
    assert error_of(excinfo) == ("NotFoundException", "Invalid arn ap-southeast-1", 400)
