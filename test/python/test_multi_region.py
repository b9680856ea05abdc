"""Regions and multi-Region keys, through boto3 clients signed for different regions and the AWS
CLI with --region, all against one Trent: single-Region keys stay in their region; a multi-Region
key's replicas share its key id and material but keep their own policy, aliases, tags and state
(run on SQLite and on PostgreSQL by scripts/test.sh)."""
import base64
import datetime
import json
import os
import re
import subprocess
import uuid

import boto3
import pytest
from botocore.exceptions import ClientError

from harness import NO_RETRIES, error_of, run_trent_cli
from test_import_key_material import import_material

US, EU, AP = "us-east-1", "eu-west-1", "ap-southeast-2"


@pytest.fixture(scope="module")
def region(trent):
    """region(name): a boto3 KMS client whose requests are signed for that region."""
    access_key_id, secret = trent.admin_credentials()
    clients = {}

    def client(name):
        if name not in clients:
            clients[name] = boto3.session.Session().client(
                "kms", endpoint_url=trent.url, region_name=name, aws_access_key_id=access_key_id,
                aws_secret_access_key=secret, config=NO_RETRIES)
        return clients[name]
    return client


@pytest.fixture(scope="module")
def us(region):
    return region(US)


@pytest.fixture(scope="module")
def eu(region):
    return region(EU)


def fails(code, call, **kwargs):
    with pytest.raises(ClientError) as excinfo:
        call(**kwargs)
    assert error_of(excinfo)[0] == code, error_of(excinfo)
    return error_of(excinfo)[1]


def cli(trent, *args):
    result = run_trent_cli(*args, "--data", trent.data_dir)
    assert result.returncode == 0, f"trent {' '.join(args)} failed: {result.stderr}"
    return result


def new_mrk(us, eu, **replica_args):
    key = us.create_key(MultiRegion=True, Description="primary")["KeyMetadata"]
    replica = eu.meta.region_name
    us.replicate_key(KeyId=key["KeyId"], ReplicaRegion=replica, **replica_args)
    return key


# --- regions ------------------------------------------------------------------------------------

def test_a_single_region_key_is_not_found_through_another_region(us, eu, trent):
    key = us.create_key()["KeyMetadata"]
    assert key["MultiRegion"] is False and "MultiRegionConfiguration" not in key
    message = fails("NotFoundException", eu.describe_key, KeyId=key["KeyId"])
    assert message == f"Key 'arn:aws:kms:{EU}:{trent.account_id}:key/{key['KeyId']}' does not exist"
    assert fails("NotFoundException", eu.describe_key, KeyId=key["Arn"]) == f"Invalid arn {US}"
    assert key["KeyId"] not in [k["KeyId"] for k in eu.list_keys(Limit=1000)["Keys"]]
    assert key["KeyId"] in [k["KeyId"] for k in us.list_keys(Limit=1000)["Keys"]]
    # A ciphertext of a single-Region key names a key the other region does not have.
    blob = us.encrypt(KeyId=key["KeyId"], Plaintext=b"regional")["CiphertextBlob"]
    fails("InvalidCiphertextException", eu.decrypt, CiphertextBlob=blob)
    fails("NotFoundException", eu.decrypt, CiphertextBlob=blob, KeyId=key["KeyId"])


def test_aliases_and_grants_are_regional(us, eu, trent, unique):
    alias = unique("alias/regional-")
    us_key, eu_key = us.create_key()["KeyMetadata"], eu.create_key()["KeyMetadata"]
    us.create_alias(AliasName=alias, TargetKeyId=us_key["KeyId"])
    eu.create_alias(AliasName=alias, TargetKeyId=eu_key["KeyId"])
    assert us.describe_key(KeyId=alias)["KeyMetadata"]["KeyId"] == us_key["KeyId"]
    assert eu.describe_key(KeyId=alias)["KeyMetadata"]["KeyId"] == eu_key["KeyId"]
    listed = {a["AliasName"]: a for a in eu.list_aliases(Limit=100, KeyId=eu_key["KeyId"])["Aliases"]}
    assert listed[alias]["AliasArn"] == f"arn:aws:kms:{EU}:{trent.account_id}:{alias}"

    grant = us.create_grant(KeyId=us_key["KeyId"], GranteePrincipal=f"arn:aws:iam::{trent.account_id}:root",
                            Operations=["Decrypt"], RetiringPrincipal=f"arn:aws:iam::{trent.account_id}:root")
    fails("NotFoundException", eu.list_grants, KeyId=us_key["KeyId"])
    fails("NotFoundException", eu.retire_grant, GrantToken=grant["GrantToken"])
    us.retire_grant(GrantToken=grant["GrantToken"])


# --- multi-Region keys --------------------------------------------------------------------------

def test_create_key_multi_region_makes_an_mrk_primary(us, trent):
    key = us.create_key(MultiRegion=True)["KeyMetadata"]
    assert re.fullmatch(r"mrk-[0-9a-f]{32}", key["KeyId"])
    assert key["MultiRegion"] is True
    assert key["MultiRegionConfiguration"] == {
        "MultiRegionKeyType": "PRIMARY",
        "PrimaryKey": {"Arn": key["Arn"], "Region": US},
        "ReplicaKeys": [],
    }
    for spec, usage in [("ECC_NIST_P256", "SIGN_VERIFY"), ("HMAC_256", "GENERATE_VERIFY_MAC"),
                        ("RSA_2048", "ENCRYPT_DECRYPT")]:
        made = us.create_key(MultiRegion=True, KeySpec=spec, KeyUsage=usage)["KeyMetadata"]
        assert made["KeyId"].startswith("mrk-") and made["KeySpec"] == spec


def test_a_replica_shares_key_id_and_material_and_both_describe_the_set(us, eu, trent):
    key = us.create_key(MultiRegion=True, Description="primary")["KeyMetadata"]
    replicated = us.replicate_key(KeyId=key["Arn"], ReplicaRegion=EU, Description="replica",
                                  Tags=[{"TagKey": "team", "TagValue": "eu"}])
    replica_arn = f"arn:aws:kms:{EU}:{trent.account_id}:key/{key['KeyId']}"
    metadata = replicated["ReplicaKeyMetadata"]
    assert (metadata["KeyId"], metadata["Arn"], metadata["KeyState"]) == (key["KeyId"], replica_arn, "Enabled")
    assert metadata["Description"] == "replica"
    assert replicated["ReplicaTags"] == [{"TagKey": "team", "TagValue": "eu"}]
    assert json.loads(replicated["ReplicaPolicy"])["Statement"][0]["Principal"] == {
        "AWS": f"arn:aws:iam::{trent.account_id}:root"}
    expected = {"PrimaryKey": {"Arn": key["Arn"], "Region": US}, "ReplicaKeys": [{"Arn": replica_arn, "Region": EU}]}
    assert metadata["MultiRegionConfiguration"] == {"MultiRegionKeyType": "REPLICA", **expected}
    assert us.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["MultiRegionConfiguration"] == {
        "MultiRegionKeyType": "PRIMARY", **expected}
    described = eu.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
    assert described["MultiRegionConfiguration"]["MultiRegionKeyType"] == "REPLICA"
    assert described["CurrentKeyMaterialId"] == us.describe_key(KeyId=key["KeyId"])["KeyMetadata"][
        "CurrentKeyMaterialId"]

    # Ciphertexts and data keys made in one region decrypt in the other, without a cross-region call.
    blob = us.encrypt(KeyId=key["KeyId"], Plaintext=b"from us", EncryptionContext={"a": "b"})["CiphertextBlob"]
    assert eu.decrypt(CiphertextBlob=blob, EncryptionContext={"a": "b"})["Plaintext"] == b"from us"
    back = eu.encrypt(KeyId=key["KeyId"], Plaintext=b"from eu")["CiphertextBlob"]
    assert us.decrypt(CiphertextBlob=back, KeyId=key["Arn"])["Plaintext"] == b"from eu"
    data_key = eu.generate_data_key(KeyId=key["KeyId"], KeySpec="AES_256")
    assert us.decrypt(CiphertextBlob=data_key["CiphertextBlob"])["Plaintext"] == data_key["Plaintext"]
    # Both copies are listed, each in its own region.
    assert key["KeyId"] in [k["KeyId"] for k in eu.list_keys(Limit=1000)["Keys"]]
    assert eu.list_resource_tags(KeyId=key["KeyId"])["Tags"] == [{"TagKey": "team", "TagValue": "eu"}]
    assert us.list_resource_tags(KeyId=key["KeyId"])["Tags"] == []


def test_signatures_and_macs_of_a_replica_verify_in_the_primary_region(us, eu):
    signing = us.create_key(MultiRegion=True, KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    us.replicate_key(KeyId=signing["KeyId"], ReplicaRegion=EU)
    signature = eu.sign(KeyId=signing["KeyId"], Message=b"m", SigningAlgorithm="ECDSA_SHA_256")["Signature"]
    assert us.verify(KeyId=signing["KeyId"], Message=b"m", Signature=signature,
                     SigningAlgorithm="ECDSA_SHA_256")["SignatureValid"] is True
    assert eu.get_public_key(KeyId=signing["KeyId"])["PublicKey"] == us.get_public_key(
        KeyId=signing["KeyId"])["PublicKey"]
    mac_key = us.create_key(MultiRegion=True, KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]
    us.replicate_key(KeyId=mac_key["KeyId"], ReplicaRegion=EU)
    mac = us.generate_mac(KeyId=mac_key["KeyId"], Message=b"m", MacAlgorithm="HMAC_SHA_256")["Mac"]
    assert eu.verify_mac(KeyId=mac_key["KeyId"], Message=b"m", Mac=mac, MacAlgorithm="HMAC_SHA_256")["MacValid"]


def test_a_replica_has_its_own_policy_aliases_and_state(us, eu, trent, unique):
    policy = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "replica", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{trent.account_id}:root"},
        "Action": "kms:*", "Resource": "*"}]})
    key = new_mrk(us, eu, Policy=policy)
    assert json.loads(eu.get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"])["Statement"][0][
        "Sid"] == "replica"
    assert json.loads(us.get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"]) != json.loads(policy)
    alias = unique("alias/mrk-")
    eu.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    fails("NotFoundException", us.describe_key, KeyId=alias)
    assert eu.describe_key(KeyId=alias)["KeyMetadata"]["Arn"].startswith(f"arn:aws:kms:{EU}:")

    eu.disable_key(KeyId=key["KeyId"])
    assert eu.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "Disabled"
    blob = us.encrypt(KeyId=key["KeyId"], Plaintext=b"still")["CiphertextBlob"]
    assert us.decrypt(CiphertextBlob=blob)["Plaintext"] == b"still"
    fails("DisabledException", eu.decrypt, CiphertextBlob=blob)
    eu.enable_key(KeyId=key["KeyId"])
    assert eu.decrypt(CiphertextBlob=blob)["Plaintext"] == b"still"


def test_replicate_key_errors(us, eu, region, trent):
    single = us.create_key()["KeyMetadata"]
    fails("UnsupportedOperationException", us.replicate_key, KeyId=single["KeyId"], ReplicaRegion=EU)
    key = new_mrk(us, eu)
    message = fails("AlreadyExistsException", us.replicate_key, KeyId=key["KeyId"], ReplicaRegion=EU)
    assert f"arn:aws:kms:{EU}:{trent.account_id}:key/{key['KeyId']}" in message
    fails("ValidationException", us.replicate_key, KeyId=key["KeyId"], ReplicaRegion=US)
    fails("UnsupportedOperationException", eu.replicate_key, KeyId=key["KeyId"], ReplicaRegion=AP)
    fails("UnsupportedOperationException", us.replicate_key, KeyId=key["KeyId"], ReplicaRegion="cn-north-1")
    fails("ValidationException", us.replicate_key, KeyId=key["KeyId"], ReplicaRegion="not a region")
    fails("NotFoundException", eu.replicate_key, KeyId=single["KeyId"], ReplicaRegion=AP)
    us.disable_key(KeyId=key["KeyId"])
    fails("DisabledException", us.replicate_key, KeyId=key["KeyId"], ReplicaRegion=AP)


def test_replicate_key_needs_create_key_in_the_replica_region(trent, us):
    """kms:ReplicateKey is asked of the primary, kms:CreateKey of the identity policies in the
    replica's region (aws:RequestedRegion is that region there)."""
    name = f"replicator-{uuid.uuid4().hex[:10]}"
    issued = json.loads(cli(trent, "access-key", "create", "--user", name).stdout)
    cli(trent, "identity-policy", "put", "--user", name, "--name", "policy", "--document", json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "kms:*", "Resource": "*"},
            {"Effect": "Deny", "Action": "kms:CreateKey", "Resource": "*",
             "Condition": {"StringEquals": {"aws:RequestedRegion": EU}}},
            {"Effect": "Deny", "Action": "kms:ReplicateKey", "Resource": "*",
             "Condition": {"StringEquals": {"kms:ReplicaRegion": "eu-central-1"}}}]}))
    user = trent.client(issued["AccessKeyId"], issued["SecretAccessKey"])
    key = user.create_key(MultiRegion=True)["KeyMetadata"]
    message = fails("AccessDeniedException", user.replicate_key, KeyId=key["KeyId"], ReplicaRegion=EU)
    assert "kms:CreateKey" in message and f"arn:aws:kms:{EU}:" in message
    message = fails("AccessDeniedException", user.replicate_key, KeyId=key["KeyId"], ReplicaRegion="eu-central-1")
    assert "kms:ReplicateKey" in message
    user.replicate_key(KeyId=key["KeyId"], ReplicaRegion=AP)
    assert us.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["MultiRegionConfiguration"]["ReplicaKeys"][0][
        "Region"] == AP


def test_rotation_is_managed_on_the_primary_and_reaches_every_replica(us, eu):
    key = new_mrk(us, eu)
    old = us.encrypt(KeyId=key["KeyId"], Plaintext=b"old")["CiphertextBlob"]
    fails("UnsupportedOperationException", eu.enable_key_rotation, KeyId=key["KeyId"])
    fails("UnsupportedOperationException", eu.rotate_key_on_demand, KeyId=key["KeyId"])
    us.enable_key_rotation(KeyId=key["KeyId"], RotationPeriodInDays=90)
    status = eu.get_key_rotation_status(KeyId=key["KeyId"])
    assert (status["KeyRotationEnabled"], status["RotationPeriodInDays"]) == (True, 90)

    us.rotate_key_on_demand(KeyId=key["KeyId"])
    us_current = us.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["CurrentKeyMaterialId"]
    assert eu.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["CurrentKeyMaterialId"] == us_current
    rotations = eu.list_key_rotations(KeyId=key["KeyId"])["Rotations"]
    assert [(r["KeyMaterialId"], r["RotationType"]) for r in rotations] == [(us_current, "ON_DEMAND")]
    new = eu.encrypt(KeyId=key["KeyId"], Plaintext=b"new")["CiphertextBlob"]
    for client in (us, eu):
        assert client.decrypt(CiphertextBlob=old)["Plaintext"] == b"old"
        assert client.decrypt(CiphertextBlob=new)["Plaintext"] == b"new"


def test_a_replica_of_a_key_with_imported_material_takes_only_the_primarys_material(us, eu):
    """ReplicateKey: "If you replicate a multi-Region primary key with imported key material, the
    replica key is created with no key material. You must import the same key material"."""
    key = us.create_key(MultiRegion=True, Origin="EXTERNAL")["KeyMetadata"]
    material = os.urandom(32)
    import_material(us, key["KeyId"], material)
    replica = us.replicate_key(KeyId=key["KeyId"], ReplicaRegion=EU)["ReplicaKeyMetadata"]
    assert (replica["KeyState"], replica["Origin"], replica["Enabled"]) == ("PendingImport", "EXTERNAL", False)
    blob = us.encrypt(KeyId=key["KeyId"], Plaintext=b"byok")["CiphertextBlob"]
    fails("KMSInvalidStateException", eu.decrypt, CiphertextBlob=blob)
    fails("IncorrectKeyMaterialException", lambda: import_material(eu, key["KeyId"], os.urandom(32)))

    # The same material, with its own expiry: the replica is usable, the primary unchanged.
    valid_to = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)
    imported = import_material(eu, key["KeyId"], material, ImportType="EXISTING_KEY_MATERIAL",
                               ExpirationModel="KEY_MATERIAL_EXPIRES", ValidTo=valid_to)
    primary = us.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
    assert imported["KeyMaterialId"] == primary["CurrentKeyMaterialId"]
    described = eu.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
    assert (described["KeyState"], described["ExpirationModel"]) == ("Enabled", "KEY_MATERIAL_EXPIRES")
    assert primary["ExpirationModel"] == "KEY_MATERIAL_DOES_NOT_EXPIRE" and "ValidTo" not in primary
    assert eu.decrypt(CiphertextBlob=blob)["Plaintext"] == b"byok"
    back = eu.encrypt(KeyId=key["KeyId"], Plaintext=b"back")["CiphertextBlob"]
    assert us.decrypt(CiphertextBlob=back)["Plaintext"] == b"back"

    # Deleting the replica's material leaves the primary as it is.
    eu.delete_imported_key_material(KeyId=key["KeyId"])
    assert eu.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "PendingImport"
    assert us.decrypt(CiphertextBlob=back)["Plaintext"] == b"back"
    # Not (yet) in Trent: new material for a primary with replicas, replicas of rotated material.
    fails("UnsupportedOperationException",
          lambda: import_material(us, key["KeyId"], os.urandom(32), ImportType="NEW_KEY_MATERIAL"))
    pending = us.create_key(MultiRegion=True, Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    import_material(us, pending, os.urandom(32))
    import_material(us, pending, os.urandom(32), ImportType="NEW_KEY_MATERIAL")
    fails("UnsupportedOperationException", us.replicate_key, KeyId=pending, ReplicaRegion=EU)


def test_update_primary_region_swaps_primary_and_replica(us, eu, trent):
    key = new_mrk(us, eu)
    us.enable_key_rotation(KeyId=key["KeyId"], RotationPeriodInDays=120)
    fails("UnsupportedOperationException", eu.update_primary_region, KeyId=key["KeyId"], PrimaryRegion=US)
    fails("NotFoundException", us.update_primary_region, KeyId=key["KeyId"], PrimaryRegion=AP)
    single = us.create_key()["KeyMetadata"]
    fails("UnsupportedOperationException", us.update_primary_region, KeyId=single["KeyId"], PrimaryRegion=EU)
    eu.disable_key(KeyId=key["KeyId"])
    fails("DisabledException", us.update_primary_region, KeyId=key["KeyId"], PrimaryRegion=EU)
    eu.enable_key(KeyId=key["KeyId"])

    assert us.update_primary_region(KeyId=key["KeyId"], PrimaryRegion=EU)["ResponseMetadata"]["HTTPStatusCode"] == 200
    eu_arn = f"arn:aws:kms:{EU}:{trent.account_id}:key/{key['KeyId']}"
    expected = {"PrimaryKey": {"Arn": eu_arn, "Region": EU}, "ReplicaKeys": [{"Arn": key["Arn"], "Region": US}]}
    assert eu.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["MultiRegionConfiguration"] == {
        "MultiRegionKeyType": "PRIMARY", **expected}
    assert us.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["MultiRegionConfiguration"] == {
        "MultiRegionKeyType": "REPLICA", **expected}
    # The rotation schedule moved with the primary; the new primary replicates, the old one cannot.
    assert eu.get_key_rotation_status(KeyId=key["KeyId"])["RotationPeriodInDays"] == 120
    fails("UnsupportedOperationException", us.disable_key_rotation, KeyId=key["KeyId"])
    eu.replicate_key(KeyId=key["KeyId"], ReplicaRegion=AP)
    fails("UnsupportedOperationException", us.replicate_key, KeyId=key["KeyId"], ReplicaRegion="eu-central-1")


def test_a_primary_with_replicas_waits_in_pending_replica_deletion(us, eu):
    key = new_mrk(us, eu)
    scheduled = us.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=9)
    assert scheduled["KeyState"] == "PendingReplicaDeletion" and scheduled["PendingWindowInDays"] == 9
    assert "DeletionDate" not in scheduled
    described = us.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
    assert (described["KeyState"], described["PendingDeletionWindowInDays"]) == ("PendingReplicaDeletion", 9)
    assert "DeletionDate" not in described
    fails("KMSInvalidStateException", us.encrypt, KeyId=key["KeyId"], Plaintext=b"x")
    fails("KMSInvalidStateException", us.schedule_key_deletion, KeyId=key["KeyId"])
    # The replica is independent: it still works, and is scheduled for deletion on its own.
    blob = eu.encrypt(KeyId=key["KeyId"], Plaintext=b"x")["CiphertextBlob"]
    replica = eu.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    assert replica["KeyState"] == "PendingDeletion" and "DeletionDate" in replica
    fails("KMSInvalidStateException", eu.decrypt, CiphertextBlob=blob)

    us.cancel_key_deletion(KeyId=key["KeyId"])
    after = us.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
    assert after["KeyState"] == "Disabled" and "PendingDeletionWindowInDays" not in after
    eu.cancel_key_deletion(KeyId=key["KeyId"])
    assert eu.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "Disabled"
    # A primary without replicas is scheduled like any key.
    alone = us.create_key(MultiRegion=True)["KeyMetadata"]
    assert us.schedule_key_deletion(KeyId=alone["KeyId"], PendingWindowInDays=7)["KeyState"] == "PendingDeletion"


def test_cli_ciphertext_from_us_east_1_decrypts_through_the_replica_in_eu_west_1(trent, tmp_path):
    """The issue's "Done when", with the real AWS CLI and --region."""
    def aws(*args):
        result = subprocess.run(["aws", "kms", *args, "--endpoint-url", trent.url, "--output", "json"],
                                capture_output=True, text=True, env=trent.env(), timeout=60)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout) if result.stdout.strip() else {}

    key = aws("create-key", "--multi-region", "--region", US)["KeyMetadata"]
    replica = aws("replicate-key", "--key-id", key["KeyId"], "--replica-region", EU, "--region", US)
    assert replica["ReplicaKeyMetadata"]["Arn"] == f"arn:aws:kms:{EU}:{trent.account_id}:key/{key['KeyId']}"
    (tmp_path / "plain.txt").write_bytes(b"multi-Region secret")
    encrypted = aws("encrypt", "--key-id", key["KeyId"], "--plaintext", f"fileb://{tmp_path / 'plain.txt'}",
                    "--region", US)
    (tmp_path / "blob.bin").write_bytes(base64.b64decode(encrypted["CiphertextBlob"]))
    decrypted = aws("decrypt", "--ciphertext-blob", f"fileb://{tmp_path / 'blob.bin'}", "--region", EU)
    assert decrypted["KeyId"] == replica["ReplicaKeyMetadata"]["Arn"]
    assert base64.b64decode(decrypted["Plaintext"]) == b"multi-Region secret"


def test_trent_check_accepts_every_copy_of_the_multi_region_keys(trent):
    """Last in this module: primaries, replicas (also of imported material), swapped primaries and
    replicas pending deletion must all pass `trent check`."""
    checked = run_trent_cli("check", "--data", trent.data_dir)
    assert checked.returncode == 0, checked.stdout + checked.stderr
