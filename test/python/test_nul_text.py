"""A NUL character in a stored text value (tags, descriptions) is the caller's bad input: SQLite
stores it, PostgreSQL cannot, and there it is a ValidationException, never a 500."""

import pytest
from botocore.exceptions import ClientError

from harness import STORE, error_of


@pytest.mark.parametrize("call", [
    lambda kms, key: kms.untag_resource(KeyId=key, TagKeys=["\x00"]),
    lambda kms, key: kms.tag_resource(KeyId=key, Tags=[{"TagKey": "k", "TagValue": "a\x00b"}]),
    lambda kms, key: kms.update_key_description(KeyId=key, Description="a\x00b"),
], ids=["untag", "tag", "description"])
def test_nul_in_stored_text_is_a_kms_error_or_stored(kms, call):
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    if STORE == "postgres":
        with pytest.raises(ClientError) as refused:
            call(kms, key)
        code, message, status = error_of(refused)
        assert (code, status) == ("ValidationException", 400)
        assert "NUL" in message
    else:
        call(kms, key)
    # The key is untouched and still usable either way.
    assert kms.describe_key(KeyId=key)["KeyMetadata"]["Enabled"] is True
