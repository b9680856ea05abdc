"""The first-run story from the README: start Trent, point the AWS CLI at the credentials file it
wrote, create a key; restart on the same data directory and carry on with the same credentials."""
import base64
import json
import os
import re
import stat
import subprocess

import pytest

from harness import Trent, TrentDidNotStart, read_credentials_file


def user_env(trent, home):
    """Only what a user sets by hand: no AWS_* besides the two README variables, an empty HOME."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_SHARED_CREDENTIALS_FILE=trent.credentials_file, AWS_PROFILE="trent", HOME=str(home))
    return env


def cli_create_key(trent, home, *args):
    result = subprocess.run(["aws", "kms", "create-key", "--endpoint-url", trent.url, *args],
                            capture_output=True, text=True, env=user_env(trent, home), timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["KeyMetadata"]


def test_aws_cli_creates_a_key_with_just_the_credentials_file_and_profile(trent, tmp_path):
    metadata = cli_create_key(trent, tmp_path)
    assert metadata["KeyState"] == "Enabled"
    assert metadata["Arn"] == f"arn:aws:kms:us-east-1:{trent.account_id}:key/{metadata['KeyId']}"


def test_credentials_file_is_owner_only_and_holds_profile_trent_with_a_region(trent):
    assert stat.S_IMODE(os.stat(trent.credentials_file).st_mode) == 0o600
    credentials = read_credentials_file(trent.credentials_file)
    assert credentials.sections() == ["trent"]
    profile = credentials["trent"]
    assert set(profile) == {"aws_access_key_id", "aws_secret_access_key", "region"}
    assert re.fullmatch(r"AKIA[A-Z2-7]{16}", profile["aws_access_key_id"])
    assert len(profile["aws_secret_access_key"]) >= 40
    assert profile["region"] == "us-east-1"


def test_startup_output_tells_the_user_the_exact_commands(trent):
    output = "".join(trent.output)
    assert f"export AWS_SHARED_CREDENTIALS_FILE={trent.credentials_file} AWS_PROFILE=trent" in output
    assert f"aws kms create-key --endpoint-url {trent.url}" in output


def test_restart_on_the_same_data_dir_reuses_credentials_keys_and_account(tmp_path):
    data_dir = tmp_path / "data"
    first = Trent(data_dir=data_dir)
    try:
        credentials_before = (data_dir / "credentials").read_text()
        account_id = first.account_id
        key = cli_create_key(first, tmp_path, "--description", "survives a restart")
        ciphertext = first.client().encrypt(KeyId=key["KeyId"], Plaintext=b"kept")["CiphertextBlob"]
    finally:
        first.stop()
    assert data_dir.exists()

    second = Trent(data_dir=data_dir)
    try:
        assert (data_dir / "credentials").read_text() == credentials_before
        assert stat.S_IMODE(os.stat(second.credentials_file).st_mode) == 0o600
        assert second.account_id == account_id
        assert "Admin credentials written" not in "".join(second.output)
        again = second.client().describe_key(KeyId=key["KeyId"])["KeyMetadata"]
        assert again["Description"] == "survives a restart"
        assert second.client().decrypt(CiphertextBlob=ciphertext)["Plaintext"] == b"kept"
        cli_create_key(second, tmp_path)
    finally:
        second.stop()


def test_a_temporary_data_dir_kept_at_stop_can_be_restarted(tmp_path):
    first = Trent()
    try:
        key_id = first.client().create_key()["KeyMetadata"]["KeyId"]
    finally:
        first.stop(keep_data=True)
    second = Trent(data_dir=first.data_dir)
    try:
        assert second.client().describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"
    finally:
        second.stop(keep_data=False)
    assert not os.path.exists(first.data_dir)


def test_a_new_data_dir_and_everything_in_it_is_private_to_its_owner(tmp_path):
    server = Trent(data_dir=tmp_path / "fresh")
    try:
        assert stat.S_IMODE(os.stat(server.data_dir).st_mode) == 0o700
        for name in os.listdir(server.data_dir):
            mode = stat.S_IMODE(os.stat(os.path.join(server.data_dir, name)).st_mode)
            assert mode & 0o077 == 0, f"{name} is readable by others: {oct(mode)}"
        assert {"credentials", "root.key", "trent.db"} <= set(os.listdir(server.data_dir))
    finally:
        server.stop()


def test_restart_rewrites_a_deleted_credentials_file_with_the_same_access_key(tmp_path):
    data_dir = tmp_path / "data"
    first = Trent(data_dir=data_dir)
    try:
        credentials_before = (data_dir / "credentials").read_text()
    finally:
        first.stop()
    (data_dir / "credentials").unlink()

    second = Trent(data_dir=data_dir)
    try:
        assert (data_dir / "credentials").read_text() == credentials_before
        assert stat.S_IMODE(os.stat(second.credentials_file).st_mode) == 0o600
        assert second.client().list_keys()["Truncated"] is False
    finally:
        second.stop()


def test_serve_region_option_is_written_to_the_credentials_file_and_used_by_the_cli(tmp_path):
    server = Trent(extra_args=("--region", "eu-west-2"))
    try:
        assert read_credentials_file(server.credentials_file)["trent"]["region"] == "eu-west-2"
        metadata = cli_create_key(server, tmp_path)
        assert metadata["Arn"].startswith(f"arn:aws:kms:eu-west-2:{server.account_id}:key/")
    finally:
        server.stop()


def test_the_account_id_is_fixed_when_the_data_dir_is_created(tmp_path):
    data_dir = tmp_path / "data"
    first = Trent(extra_args=("--account-id", "111122223333"), data_dir=data_dir)
    try:
        assert first.account_id == "111122223333"
        arn = first.client().create_key()["KeyMetadata"]["Arn"]
        assert arn.startswith("arn:aws:kms:us-east-1:111122223333:key/")
    finally:
        first.stop()
    second = Trent(extra_args=("--account-id", "444455556666"), data_dir=data_dir)
    try:
        assert second.account_id == "111122223333"
        assert second.client().describe_key(KeyId=arn)["KeyMetadata"]["Arn"] == arn
    finally:
        second.stop()


def test_the_root_key_can_come_from_the_environment_instead_of_the_key_file(tmp_path):
    data_dir = tmp_path / "data"
    first = Trent(data_dir=data_dir)
    try:
        blob = first.client().encrypt(KeyId=first.client().create_key()["KeyMetadata"]["KeyId"],
                                      Plaintext=b"env root")["CiphertextBlob"]
    finally:
        first.stop()
    root_key = (data_dir / "root.key").read_text().strip()
    (data_dir / "root.key").unlink()
    second = Trent(extra_args=("--root-key", root_key), data_dir=data_dir)
    try:
        assert second.client().decrypt(CiphertextBlob=blob)["Plaintext"] == b"env root"
    finally:
        second.stop()
    assert not (data_dir / "root.key").exists(), "the root key from the environment was written to disk"


def test_trent_refuses_to_start_with_a_root_key_that_does_not_match_its_data(tmp_path):
    data_dir = tmp_path / "data"
    Trent(data_dir=data_dir).stop()
    other_key = base64.b64encode(bytes(range(32))).decode()
    with pytest.raises(TrentDidNotStart) as excinfo:
        Trent(extra_args=("--root-key", other_key), data_dir=data_dir)
    assert excinfo.value.exit_code != 0
    assert "root key does not match" in excinfo.value.stderr


def test_trent_refuses_to_start_when_its_root_key_file_is_readable_by_others(tmp_path):
    data_dir = tmp_path / "data"
    Trent(data_dir=data_dir).stop()
    os.chmod(data_dir / "root.key", 0o644)
    with pytest.raises(TrentDidNotStart) as excinfo:
        Trent(data_dir=data_dir)
    assert excinfo.value.exit_code != 0
    assert "root.key must not be readable by group or others" in excinfo.value.stderr
