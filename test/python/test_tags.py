"""TagResource, UntagResource and ListResourceTags through boto3."""
import pytest
from botocore.exceptions import ClientError

from harness import error_of


def tags_of(kms, key_id, limit=None):
    """Every tag of a key (all pages) as a dict; checks no tag is listed twice."""
    found, marker = {}, None
    while True:
        args = {"KeyId": key_id}
        if limit is not None:
            args["Limit"] = limit
        if marker is not None:
            args["Marker"] = marker
        page = kms.list_resource_tags(**args)
        for tag in page["Tags"]:
            assert tag["TagKey"] not in found, "a tag was listed twice"
            found[tag["TagKey"]] = tag["TagValue"]
        if not page["Truncated"]:
            assert "NextMarker" not in page
            return found
        marker = page["NextMarker"]


def tag_list(mapping):
    return [{"TagKey": k, "TagValue": v} for k, v in mapping.items()]


def test_tag_resource_adds_tags_and_list_resource_tags_shows_them(kms, new_key):
    key_id = new_key()["KeyId"]
    empty = kms.list_resource_tags(KeyId=key_id)
    assert (empty["Tags"], empty["Truncated"]) == ([], False)
    kms.tag_resource(KeyId=key_id, Tags=tag_list({"env": "prod", "owner": "ann", "empty": ""}))
    assert tags_of(kms, key_id) == {"env": "prod", "owner": "ann", "empty": ""}


def test_tag_resource_overwrites_the_value_of_an_existing_tag_key(kms, new_key):
    key_id = new_key(Tags=tag_list({"env": "dev", "keep": "me"}))["KeyId"]
    kms.tag_resource(KeyId=key_id, Tags=tag_list({"env": "prod"}))
    assert tags_of(kms, key_id) == {"env": "prod", "keep": "me"}


def test_tag_keys_are_case_sensitive(kms, new_key):
    key_id = new_key()["KeyId"]
    kms.tag_resource(KeyId=key_id, Tags=tag_list({"Env": "a", "env": "b"}))
    assert tags_of(kms, key_id) == {"Env": "a", "env": "b"}


def test_untag_resource_removes_tags_and_ignores_tag_keys_that_are_not_there(kms, new_key):
    key_id = new_key(Tags=tag_list({"a": "1", "b": "2", "c": "3"}))["KeyId"]
    kms.untag_resource(KeyId=key_id, TagKeys=["a", "never-there"])
    assert tags_of(kms, key_id) == {"b": "2", "c": "3"}
    kms.untag_resource(KeyId=key_id, TagKeys=["never-there"])
    assert tags_of(kms, key_id) == {"b": "2", "c": "3"}


def test_tags_belong_to_one_key(kms, new_key):
    tagged, other = new_key()["KeyId"], new_key()["KeyId"]
    kms.tag_resource(KeyId=tagged, Tags=tag_list({"only": "here"}))
    assert tags_of(kms, other) == {}


def test_tag_operations_work_on_a_disabled_key(kms, new_key):
    key_id = new_key()["KeyId"]
    kms.disable_key(KeyId=key_id)
    kms.tag_resource(KeyId=key_id, Tags=tag_list({"x": "1"}))
    kms.untag_resource(KeyId=key_id, TagKeys=["x"])
    assert tags_of(kms, key_id) == {}


@pytest.mark.parametrize("operation", ["TagResource", "UntagResource"])
def test_tag_changes_on_a_key_pending_deletion_are_invalid_state(kms, new_key, operation):
    key = new_key(Tags=tag_list({"x": "1"}))
    kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    with pytest.raises(ClientError) as excinfo:
        if operation == "TagResource":
            kms.tag_resource(KeyId=key["KeyId"], Tags=tag_list({"y": "2"}))
        else:
            kms.untag_resource(KeyId=key["KeyId"], TagKeys=["x"])
    assert error_of(excinfo) == ("KMSInvalidStateException", f"{key['Arn']} is pending deletion.", 400)
    assert tags_of(kms, key["KeyId"]) == {"x": "1"}


@pytest.mark.parametrize("tag_key", ["aws:team", "aws:", "AWS:team"])
@pytest.mark.parametrize("operation", ["TagResource", "CreateKey"])
def test_tag_keys_with_the_aws_prefix_are_a_tag_exception(kms, new_key, operation, tag_key):
    tags = tag_list({"fine": "1", tag_key: "x"})
    with pytest.raises(ClientError) as excinfo:
        if operation == "TagResource":
            key_id = new_key()["KeyId"]
            kms.tag_resource(KeyId=key_id, Tags=tags)
        else:
            kms.create_key(Tags=tags)
    code, _, status = error_of(excinfo)
    assert (code, status) == ("TagException", 400)
    if operation == "TagResource":
        assert tags_of(kms, key_id) == {}


def test_a_tag_key_given_twice_in_one_request_is_a_tag_exception(kms, new_key):
    key_id = new_key()["KeyId"]
    with pytest.raises(ClientError) as excinfo:
        kms.tag_resource(KeyId=key_id, Tags=[{"TagKey": "k", "TagValue": "1"}, {"TagKey": "k", "TagValue": "2"}])
    assert error_of(excinfo)[0] == "TagException"


def test_fifty_tags_are_allowed_and_the_fifty_first_is_limit_exceeded(kms, new_key):
    key_id = new_key()["KeyId"]
    fifty = {f"k{i:02}": str(i) for i in range(50)}
    kms.tag_resource(KeyId=key_id, Tags=tag_list(fifty))
    with pytest.raises(ClientError) as excinfo:
        kms.tag_resource(KeyId=key_id, Tags=tag_list({"one-too-many": "x"}))
    code, _, status = error_of(excinfo)
    assert (code, status) == ("LimitExceededException", 400)
    kms.tag_resource(KeyId=key_id, Tags=tag_list({"k00": "overwritten"}))  # not a new tag
    assert tags_of(kms, key_id) == {**fifty, "k00": "overwritten"}


def test_fifty_one_tags_in_one_request_are_limit_exceeded(kms, new_key):
    key_id = new_key()["KeyId"]
    with pytest.raises(ClientError) as excinfo:
        kms.tag_resource(KeyId=key_id, Tags=tag_list({f"k{i:02}": "v" for i in range(51)}))
    assert error_of(excinfo)[0] == "LimitExceededException"
    assert tags_of(kms, key_id) == {}


def test_list_resource_tags_pages_through_every_tag_exactly_once(kms, new_key):
    expected = {f"tag-{i:02}": f"value-{i}" for i in range(50)}
    key_id = new_key(Tags=tag_list(expected))["KeyId"]
    assert tags_of(kms, key_id, limit=7) == expected
    first = kms.list_resource_tags(KeyId=key_id, Limit=7)
    assert len(first["Tags"]) == 7 and first["Truncated"] is True
    assert tags_of(kms, key_id, limit=50) == expected
    whole = kms.list_resource_tags(KeyId=key_id)
    assert len(whole["Tags"]) == 50 and whole["Truncated"] is False


def test_list_resource_tags_with_a_bad_marker_is_invalid_marker(kms, new_key):
    with pytest.raises(ClientError) as excinfo:
        kms.list_resource_tags(KeyId=new_key()["KeyId"], Marker="bogus")
    assert error_of(excinfo)[0] == "InvalidMarkerException"


@pytest.mark.parametrize("tags, path, bound", [
    ([{"TagKey": "k" * 129, "TagValue": "v"}], "tags.1.member.tagKey", 128),
    ([{"TagKey": "ok", "TagValue": "v"}, {"TagKey": "k2", "TagValue": "v" * 257}], "tags.2.member.tagValue", 256),
])
def test_tag_key_and_value_lengths_are_validated_with_the_member_path(kms_unchecked, new_key, tags, path, bound):
    with pytest.raises(ClientError) as excinfo:
        kms_unchecked.tag_resource(KeyId=new_key()["KeyId"], Tags=tags)
    code, message, _ = error_of(excinfo)
    assert code == "ValidationException"
    assert message.startswith("1 validation error detected: Value '")
    assert message.endswith(f"' at '{path}' failed to satisfy constraint: "
                            f"Member must have length less than or equal to {bound}")


def test_tag_keys_and_values_at_their_maximum_lengths_are_accepted(kms, new_key):
    key_id = new_key()["KeyId"]
    kms.tag_resource(KeyId=key_id, Tags=tag_list({"k" * 128: "v" * 256}))
    assert tags_of(kms, key_id) == {"k" * 128: "v" * 256}
