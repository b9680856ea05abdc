"""Key rotation through the real AWS CLI and boto3: the schedule, on-demand rotation, the list of
rotations, and ciphertexts from every version decrypting afterwards (run on SQLite and on
PostgreSQL by scripts/test.sh)."""
import base64
import datetime

import pytest
from botocore.exceptions import ClientError

from harness import error_of


@pytest.fixture
def key(aws):
    return aws("create-key", "--description", "rotation test")["KeyMetadata"]


def test_cli_enable_get_and_disable_key_rotation(aws, key):
    status = aws("get-key-rotation-status", "--key-id", key["KeyId"])
    assert status == {"KeyId": key["Arn"], "KeyRotationEnabled": False}

    before = datetime.datetime.now(datetime.timezone.utc)
    aws("enable-key-rotation", "--key-id", key["KeyId"], "--rotation-period-in-days", "180")
    status = aws("get-key-rotation-status", "--key-id", key["KeyId"])
    assert status["KeyRotationEnabled"] is True
    assert status["RotationPeriodInDays"] == 180
    # The CLI v1 prints timestamps as it received them: epoch seconds.
    next_date = datetime.datetime.fromtimestamp(float(status["NextRotationDate"]), datetime.timezone.utc)
    assert abs(next_date - (before + datetime.timedelta(days=180))) < datetime.timedelta(minutes=5)

    aws("disable-key-rotation", "--key-id", key["KeyId"])
    assert aws("get-key-rotation-status", "--key-id", key["KeyId"])["KeyRotationEnabled"] is False


def test_cli_rotate_key_on_demand_and_list_key_rotations(aws, key):
    first = aws("describe-key", "--key-id", key["KeyId"])["KeyMetadata"]["CurrentKeyMaterialId"]
    assert aws("rotate-key-on-demand", "--key-id", key["KeyId"]) == {"KeyId": key["Arn"]}
    second = aws("describe-key", "--key-id", key["KeyId"])["KeyMetadata"]["CurrentKeyMaterialId"]
    assert second != first and len(second) == 64

    listed = aws("list-key-rotations", "--key-id", key["KeyId"])
    assert [(r["KeyMaterialId"], r["RotationType"], r["KeyMaterialState"]) for r in listed["Rotations"]] == [
        (second, "ON_DEMAND", "CURRENT")]
    assert "RotationDate" in listed["Rotations"][0]

    everything = aws("list-key-rotations", "--key-id", key["KeyId"], "--include-key-material", "ALL_KEY_MATERIAL")
    assert [r["KeyMaterialId"] for r in everything["Rotations"]] == [first, second]
    assert "RotationType" not in everything["Rotations"][0]


def test_cli_out_of_range_rotation_period_is_a_validation_error(aws, key):
    result = aws("enable-key-rotation", "--key-id", key["KeyId"], "--rotation-period-in-days", "2561", check=False)
    assert result.returncode != 0
    assert "ValidationException" in result.stderr


def test_every_version_decrypts_after_nine_rotations_and_reencrypt_moves_to_the_newest(kms):
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    made = []
    for version in range(10):
        if version:
            kms.rotate_key_on_demand(KeyId=key_id)
        plaintext = f"version {version}".encode()
        blob = kms.encrypt(KeyId=key_id, Plaintext=plaintext)["CiphertextBlob"]
        material = kms.describe_key(KeyId=key_id)["KeyMetadata"]["CurrentKeyMaterialId"]
        made.append((blob, plaintext, material))
    assert len({material for _, _, material in made}) == 10
    for blob, plaintext, material in made:
        decrypted = kms.decrypt(CiphertextBlob=blob)
        assert decrypted["Plaintext"] == plaintext
        assert decrypted["KeyMaterialId"] == material
    moved = kms.re_encrypt(CiphertextBlob=made[0][0], DestinationKeyId=key_id)
    assert moved["SourceKeyMaterialId"] == made[0][2]
    assert moved["DestinationKeyMaterialId"] == made[-1][2]
    data_key = kms.generate_data_key(KeyId=key_id, KeySpec="AES_256")
    assert data_key["KeyMaterialId"] == made[-1][2]

    paginator = kms.get_paginator("list_key_rotations")
    rotations = [r for page in paginator.paginate(KeyId=key_id, PaginationConfig={"PageSize": 4})
                 for r in page["Rotations"]]
    assert [r["KeyMaterialId"] for r in rotations] == [material for _, _, material in made[1:]]


def test_rotation_is_refused_for_a_disabled_key_but_its_status_is_readable(kms):
    metadata = kms.create_key()["KeyMetadata"]
    kms.enable_key_rotation(KeyId=metadata["KeyId"])
    kms.disable_key(KeyId=metadata["KeyId"])
    assert kms.get_key_rotation_status(KeyId=metadata["KeyId"])["KeyRotationEnabled"] is True
    for call in (kms.rotate_key_on_demand, kms.enable_key_rotation, kms.disable_key_rotation):
        with pytest.raises(ClientError) as excinfo:
            call(KeyId=metadata["KeyId"])
        assert error_of(excinfo) == ("DisabledException", f"{metadata['Arn']} is disabled.", 400)


def test_unknown_key_is_not_found(kms):
    with pytest.raises(ClientError) as excinfo:
        kms.rotate_key_on_demand(KeyId="00000000-0000-0000-0000-000000000000")
    assert error_of(excinfo)[0] == "NotFoundException"


def test_data_key_decrypts_with_the_material_it_was_made_under(kms):
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    data_key = kms.generate_data_key(KeyId=key_id, NumberOfBytes=32)
    kms.rotate_key_on_demand(KeyId=key_id)
    decrypted = kms.decrypt(CiphertextBlob=data_key["CiphertextBlob"])
    assert decrypted["Plaintext"] == data_key["Plaintext"]
    assert decrypted["KeyMaterialId"] == data_key["KeyMaterialId"]
    assert base64.b64encode(decrypted["Plaintext"])
