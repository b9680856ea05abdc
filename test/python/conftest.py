"""Starts one real Trent (the built `dist/` CLI) for the Python integration tests and hands
tests a boto3 KMS client, an AWS CLI runner and a raw SigV4 HTTP client pointed at it."""
import json
import os
import subprocess
import uuid

import boto3
import botocore.config
import pytest

import harness
from harness import NO_RETRIES, RawKms, Trent


def pytest_report_header(config):
    where = f" (databases in {harness.POSTGRES_URL})" if harness.STORE == "postgres" else ""
    return f"Trent store: {harness.STORE}{where}"


# Tests about the SQLite store itself, which do not apply when Trent runs on PostgreSQL.
SQLITE_ONLY = {
    "test_user_story.py::test_a_new_data_dir_and_everything_in_it_is_private_to_its_owner":
        "expects the SQLite file trent.db in the data directory (on PostgreSQL, "
        "test_multi_node.py checks what a node's data directory holds)",
}


def pytest_collection_modifyitems(config, items):
    if harness.STORE == "postgres":
        for item in items:
            reason = SQLITE_ONLY.get(item.nodeid.rsplit("/", 1)[-1])
            if reason is not None:
                item.add_marker(pytest.mark.skip(reason=f"SQLite only: {reason}"))


def pytest_sessionfinish(session, exitstatus):
    harness.drop_all_databases()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if harness.REPORT:
        terminalreporter.section(f"measurements (store: {harness.STORE})")
        for line in harness.REPORT:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def trent():
    server = Trent()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def kms(trent):
    """A boto3 KMS client using the admin credentials Trent wrote."""
    old = {k: os.environ.get(k) for k in ("AWS_SHARED_CREDENTIALS_FILE", "AWS_PROFILE", "AWS_CONFIG_FILE")}
    os.environ.update(trent.env())
    try:
        yield boto3.session.Session(profile_name="trent").client("kms", endpoint_url=trent.url,
                                                                config=NO_RETRIES)
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture(scope="session")
def kms_unchecked(trent):
    """Like `kms`, but without botocore's client-side parameter validation, so requests botocore
    would refuse (Limit=0, empty strings, ...) reach the server and its answer can be checked."""
    return trent.client(config=NO_RETRIES.merge(botocore.config.Config(parameter_validation=False)))


@pytest.fixture(scope="session")
def aws(trent):
    """Runs the real AWS CLI against Trent; returns parsed JSON output (or raises with stderr).
    With output="text" it returns stdout as text; with check=False, the CompletedProcess."""
    def run(*args, check=True, output="json"):
        result = subprocess.run(["aws", "kms", *args, "--endpoint-url", trent.url, "--output", output],
                                capture_output=True, text=True, env=trent.env(), timeout=60)
        if check and result.returncode != 0:
            raise AssertionError(f"aws kms {' '.join(args)} failed: {result.stderr}")
        if not check or output != "json":
            return result if not check else result.stdout
        return json.loads(result.stdout) if result.stdout.strip() else {}
    return run


@pytest.fixture(scope="session")
def raw(trent):
    """A RawKms signing with the admin credentials."""
    return RawKms(trent, *trent.admin_credentials())


@pytest.fixture
def new_key(kms):
    """Creates a fresh symmetric key per call; returns its KeyMetadata."""
    def create(**kwargs):
        return kms.create_key(**kwargs)["KeyMetadata"]
    return create


@pytest.fixture
def unique():
    """A short unique suffix for names (aliases, tags) that must not collide across tests."""
    return lambda prefix="": f"{prefix}{uuid.uuid4().hex[:12]}"
