"""Shape validation at the edge: the ValidationException texts AWS produces ("N validation
error(s) detected: Value '...' at 'member' failed to satisfy constraint: Member must ...").

boto3 checks some of these constraints itself, so these tests use a client with botocore's
parameter validation turned off: the server must be the one that refuses."""
import pytest
from botocore.exceptions import ClientError

from harness import error_of

KEY_USAGES = ["ENCRYPT_DECRYPT", "SIGN_VERIFY", "GENERATE_VERIFY_MAC", "KEY_AGREEMENT"]


def one(error):
    return f"1 validation error detected: {error}"


# Each case: id, call(kms, key_id), exact message.
EXACT_CASES = [
    ("limit-0", lambda kms, k: kms.list_keys(Limit=0),
     one("Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1")),
    ("limit-1001", lambda kms, k: kms.list_keys(Limit=1001),
     one("Value '1001' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 1000")),
    ("aliases-limit-0", lambda kms, k: kms.list_aliases(Limit=0),
     one("Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1")),
    ("tags-limit-negative", lambda kms, k: kms.list_resource_tags(KeyId=k, Limit=-5),
     one("Value '-5' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1")),
    ("description-8193", lambda kms, k: kms.create_key(Description="d" * 8193),
     one(f"Value '{'d' * 8193}' at 'description' failed to satisfy constraint: "
         "Member must have length less than or equal to 8192")),
    ("update-description-8193", lambda kms, k: kms.update_key_description(KeyId=k, Description="é" * 8193),
     one(f"Value '{'é' * 8193}' at 'description' failed to satisfy constraint: "
         "Member must have length less than or equal to 8192")),
    ("random-0", lambda kms, k: kms.generate_random(NumberOfBytes=0),
     one("Value '0' at 'numberOfBytes' failed to satisfy constraint: "
         "Member must have value greater than or equal to 1")),
    ("random-1025", lambda kms, k: kms.generate_random(NumberOfBytes=1025),
     one("Value '1025' at 'numberOfBytes' failed to satisfy constraint: "
         "Member must have value less than or equal to 1024")),
    ("data-key-bytes-1025", lambda kms, k: kms.generate_data_key(KeyId=k, NumberOfBytes=1025),
     one("Value '1025' at 'numberOfBytes' failed to satisfy constraint: "
         "Member must have value less than or equal to 1024")),
    ("plaintext-4097", lambda kms, k: kms.encrypt(KeyId=k, Plaintext=b"p" * 4097),
     one("Value at 'plaintext' failed to satisfy constraint: Member must have length less than or equal to 4096")),
    ("key-id-empty", lambda kms, k: kms.describe_key(KeyId=""),
     one("Value '' at 'keyId' failed to satisfy constraint: Member must have length greater than or equal to 1")),
    ("key-id-2049", lambda kms, k: kms.describe_key(KeyId="k" * 2049),
     one(f"Value '{'k' * 2049}' at 'keyId' failed to satisfy constraint: "
         "Member must have length less than or equal to 2048")),
    ("key-id-missing", lambda kms, k: kms.describe_key(),
     one("Value null at 'keyId' failed to satisfy constraint: Member must not be null")),
    ("marker-empty", lambda kms, k: kms.list_keys(Marker=""),
     one("Value '' at 'marker' failed to satisfy constraint: Member must have length greater than or equal to 1")),
    ("two-errors", lambda kms, k: kms.list_keys(Limit=0, Marker=""),
     "2 validation errors detected: "
     "Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1; "
     "Value '' at 'marker' failed to satisfy constraint: Member must have length greater than or equal to 1"),
    ("tag-resource-missing-both", lambda kms, k: kms.tag_resource(),
     "2 validation errors detected: "
     "Value null at 'keyId' failed to satisfy constraint: Member must not be null; "
     "Value null at 'tags' failed to satisfy constraint: Member must not be null"),
]


@pytest.mark.parametrize("call, expected", [c[1:] for c in EXACT_CASES], ids=[c[0] for c in EXACT_CASES])
def test_validation_errors_are_phrased_as_aws_phrases_them(kms_unchecked, new_key, call, expected):
    with pytest.raises(ClientError) as excinfo:
        call(kms_unchecked, new_key()["KeyId"])
    assert error_of(excinfo) == ("ValidationException", expected, 400)


@pytest.mark.parametrize("call, path, allowed", [
    (lambda kms, k: kms.create_key(KeyUsage="RANDOM"), "keyUsage", KEY_USAGES),
    (lambda kms, k: kms.create_key(Origin="SOMEWHERE"), "origin", ["AWS_KMS", "EXTERNAL", "AWS_CLOUDHSM"]),
    (lambda kms, k: kms.generate_data_key(KeyId=k, KeySpec="AES_512"), "keySpec", ["AES_256", "AES_128"]),
    (lambda kms, k: kms.generate_data_key_pair(KeyId=k, KeyPairSpec="RSA_1024"), "keyPairSpec",
     ["RSA_2048", "ECC_NIST_P256"]),
    (lambda kms, k: kms.encrypt(KeyId=k, Plaintext=b"x", EncryptionAlgorithm="ROT13"), "encryptionAlgorithm",
     ["SYMMETRIC_DEFAULT", "RSAES_OAEP_SHA_256"]),
], ids=["keyUsage", "origin", "keySpec", "keyPairSpec", "encryptionAlgorithm"])
def test_an_enum_violation_lists_the_allowed_values(kms_unchecked, new_key, call, path, allowed):
    with pytest.raises(ClientError) as excinfo:
        call(kms_unchecked, new_key()["KeyId"])
    code, message, status = error_of(excinfo)
    assert (code, status) == ("ValidationException", 400)
    prefix = one("Value '")
    assert message.startswith(prefix)
    assert f"' at '{path}' failed to satisfy constraint: Member must satisfy enum value set: [" in message
    assert message.endswith("]")
    listed = message[message.rindex("[") + 1:-1].split(", ")
    assert set(allowed) <= set(listed)


def test_three_violations_are_counted_and_joined_with_semicolons(kms_unchecked):
    with pytest.raises(ClientError) as excinfo:
        kms_unchecked.list_aliases(KeyId="", Limit=0, Marker="")
    code, message, _ = error_of(excinfo)
    assert code == "ValidationException"
    assert message.startswith("3 validation errors detected: ")
    errors = message[len("3 validation errors detected: "):].split("; ")
    assert sorted(errors) == sorted([
        "Value '' at 'keyId' failed to satisfy constraint: Member must have length greater than or equal to 1",
        "Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1",
        "Value '' at 'marker' failed to satisfy constraint: Member must have length greater than or equal to 1",
    ])


def test_grant_tokens_are_limited_to_ten(kms_unchecked, new_key):
    key_id = new_key()["KeyId"]
    admin = kms_unchecked.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"].split(":key/")[0]
    admin = "arn:aws:iam::" + admin.split(":")[4] + ":user/admin"
    token = kms_unchecked.create_grant(KeyId=key_id, GranteePrincipal=admin, Operations=["Encrypt"])["GrantToken"]
    kms_unchecked.encrypt(KeyId=key_id, Plaintext=b"x", GrantTokens=[token] * 10)
    with pytest.raises(ClientError) as excinfo:
        kms_unchecked.encrypt(KeyId=key_id, Plaintext=b"x", GrantTokens=[token] * 11)
    code, message, _ = error_of(excinfo)
    assert code == "ValidationException"
    assert message.startswith("1 validation error detected: Value ")
    assert message.endswith(" at 'grantTokens' failed to satisfy constraint: "
                            "Member must have length less than or equal to 10")


@pytest.mark.parametrize("args", [{}, {"KeySpec": "AES_256", "NumberOfBytes": 32}], ids=["neither", "both"])
def test_generate_data_key_needs_exactly_one_of_key_spec_and_number_of_bytes(kms, new_key, args):
    with pytest.raises(ClientError) as excinfo:
        kms.generate_data_key(KeyId=new_key()["KeyId"], **args)
    code, _, status = error_of(excinfo)
    assert (code, status) == ("ValidationException", 400)


def test_values_at_the_boundaries_are_accepted(kms_unchecked, new_key):
    key_id = new_key()["KeyId"]
    kms_unchecked.list_keys(Limit=1)
    kms_unchecked.list_keys(Limit=1000)
    kms_unchecked.create_key(Description="d" * 8192)
    assert len(kms_unchecked.generate_random(NumberOfBytes=1024)["Plaintext"]) == 1024
    assert len(kms_unchecked.generate_random(NumberOfBytes=1)["Plaintext"]) == 1
    blob = kms_unchecked.encrypt(KeyId=key_id, Plaintext=b"p" * 4096)["CiphertextBlob"]
    assert kms_unchecked.decrypt(CiphertextBlob=blob)["Plaintext"] == b"p" * 4096
    assert len(kms_unchecked.generate_data_key(KeyId=key_id, NumberOfBytes=1024)["Plaintext"]) == 1024
