"""The test harness behind conftest.py: a real Trent process, the `trent` admin CLI, and a raw
SigV4 HTTP client for requests boto3 would refuse to send."""
import configparser
import datetime
import http.client
import json
import os
import shutil
import subprocess
import tempfile
import threading
import uuid
from pathlib import Path
from unittest import mock
from urllib.parse import urlsplit

import boto3
import botocore.auth
import botocore.config
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

ROOT = Path(__file__).resolve().parents[2]
# TRENT_CLI points the tests at another build of the CLI (e.g. one engineer's own output directory).
CLI = Path(os.environ["TRENT_CLI"]) if os.environ.get("TRENT_CLI") else ROOT / "dist" / "src" / "cli" / "main.js"
JSON_CONTENT_TYPE = "application/x-amz-json-1.1"
# No retries: every request a test makes is sent exactly once, and failures surface at once.
# (botocore's "max_attempts" counts retries, not attempts: {"max_attempts": 1} retries once.)
NO_RETRIES = botocore.config.Config(retries={"total_max_attempts": 1, "mode": "standard"},
                                    connect_timeout=5, read_timeout=30)

# The store every Trent a test starts runs on: "sqlite" (the default, in its data directory) or
# "postgres" (scripts/test.sh runs the suite once with each). With "postgres", every new data
# directory gets a fresh database in the cluster at TRENT_TEST_POSTGRES_URL.
STORE = os.environ.get("TRENT_TEST_STORE", "sqlite")
POSTGRES_URL = os.environ.get("TRENT_TEST_POSTGRES_URL") or None
if STORE not in ("sqlite", "postgres"):
    raise RuntimeError(f"TRENT_TEST_STORE must be sqlite or postgres, not {STORE!r}")
if STORE == "postgres" and POSTGRES_URL is None:
    raise RuntimeError("TRENT_TEST_STORE=postgres needs TRENT_TEST_POSTGRES_URL (a postgres:// URL of a "
                       "cluster where databases may be created, e.g. from scripts/postgres-test-server.mjs)")
PG_SCRIPT = ROOT / "scripts" / "postgres-test-server.mjs"

# Lines the suite prints at the end (conftest.py's pytest_terminal_summary), e.g. measured delays.
REPORT = []


def report(line):
    REPORT.append(line)


def _database_url(server_url, database):
    parts = urlsplit(server_url)
    return parts._replace(path=f"/{database}").geturl()


def _psql(url, sql):
    result = subprocess.run(["psql", url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql],
                            capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise RuntimeError(f"psql {sql!r} failed: {result.stderr.strip()}")


def create_database(server_url=None):
    """Creates a fresh, empty database in the cluster at `server_url` (default
    TRENT_TEST_POSTGRES_URL) and returns its URL."""
    server_url = server_url or POSTGRES_URL
    if server_url is None:
        raise RuntimeError("no PostgreSQL: set TRENT_TEST_POSTGRES_URL")
    database = f"trent_{uuid.uuid4().hex[:16]}"
    _psql(server_url, f"CREATE DATABASE {database}")
    return _database_url(server_url, database)


def drop_database(url):
    """Drops a database made by create_database (closing any connections left to it)."""
    database = urlsplit(url).path.lstrip("/")
    if not database.startswith("trent_"):
        raise ValueError(f"{url} was not made by create_database")
    _psql(_database_url(url, "postgres"), f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


# With STORE == "postgres": the database of each data directory a Trent ran on, so that a second
# Trent on the same directory (a restart) finds the first one's data, and so that the admin CLI
# (run_trent_cli --data DIR) reaches it too. Dropped when the directory is removed, or at the end.
_databases = {}


def _data_key(data_dir):
    return os.path.realpath(data_dir)


def database_of(data_dir):
    """The store URL the Trents on `data_dir` used (None for SQLite)."""
    return _databases.get(_data_key(data_dir))


def drop_all_databases():
    """Drops every database still held for a data directory (called when the session ends)."""
    while _databases:
        _, url = _databases.popitem()
        try:
            drop_database(url)
        except Exception:  # the cluster may be gone already; it is removed as a whole anyway
            pass


class PostgresCluster:
    """A dedicated throwaway PostgreSQL cluster (scripts/postgres-test-server.mjs), for tests that
    stop and start the database under a running Trent without disturbing other tests."""

    def __init__(self):
        started = json.loads(self._run("start"))
        self.url, self.data_dir = started["url"], started["dataDir"]

    @staticmethod
    def _run(*args):
        result = subprocess.run(["node", str(PG_SCRIPT), *args], capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"postgres-test-server {' '.join(args)} failed: {result.stderr.strip()}")
        return result.stdout

    def halt(self):
        """Stops the server (pg_ctl stop -m fast), keeping the cluster."""
        self._run("halt", self.data_dir)

    def resume(self):
        """Starts the server again on the same port."""
        self._run("resume", self.data_dir)

    def stop(self):
        """Stops the server and removes the cluster."""
        self._run("stop", self.data_dir)


class TrentDidNotStart(RuntimeError):
    def __init__(self, exit_code, stdout, stderr):
        super().__init__(f"Trent did not start (exit code {exit_code}): {stderr or stdout}")
        self.exit_code, self.stdout, self.stderr = exit_code, stdout, stderr


class Trent:
    """One `trent serve` process. With `data_dir` it runs on that directory and stop() leaves it
    in place (a restart test starts a second Trent on the first one's data); without, it makes a
    fresh temporary directory that stop() removes unless called with keep_data=True.

    The store follows TRENT_TEST_STORE: on PostgreSQL, a data directory no Trent ran on before
    gets a fresh database, and a Trent on a directory another one ran on reuses that one's
    database; the database is dropped with the directory. `store` overrides this: a postgres://
    URL the caller manages (several nodes on one database), or "sqlite".

    Request-rate quotas are off (`quotas`: "default" for AWS's, or a quota file), since the suite
    creates keys far faster than AWS's 5 CreateKey per second and its clients do not retry."""

    def __init__(self, extra_args=(), data_dir=None, store=None, quotas="off", extra_env=None):
        self.owns_data_dir = data_dir is None
        self.data_dir = tempfile.mkdtemp(prefix="trent-pytest-") if data_dir is None else str(data_dir)
        self.store_url = None
        if store is None and STORE == "postgres":
            key = _data_key(self.data_dir)
            if key not in _databases:
                _databases[key] = create_database()
            self.store_url = _databases[key]
        elif store not in (None, "sqlite"):
            self.store_url = store
        store_args = ("--store", self.store_url) if self.store_url else ()
        env = {k: v for k, v in os.environ.items() if k != "TRENT_STORE"}
        env["TRENT_LOG_LEVEL"] = "info"
        env.update(extra_env or {})  # e.g. SOFTHSM2_CONF for PKCS#11 tokens
        self.process = subprocess.Popen(
            ["node", str(CLI), "serve", "--listen", "127.0.0.1:0", "--data", self.data_dir,
             "--key-pair-pool", "0", "--quotas", str(quotas), *store_args, *extra_args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
        self.url = None
        self.output = []
        self.errors = []
        threading.Thread(target=self._drain, args=(self.process.stderr, self.errors), daemon=True).start()
        watchdog = threading.Timer(30, self.process.kill)  # never hang the suite on a stuck start
        watchdog.start()
        try:
            self._wait_until_listening()
        finally:
            watchdog.cancel()
        if self.url is None:
            self.exit_code = self.process.wait(timeout=10)
            raise TrentDidNotStart(self.exit_code, "".join(self.output), "".join(self.errors))
        # Keep reading stdout so a chatty server can never block on a full pipe.
        threading.Thread(target=self._drain, args=(self.process.stdout, self.output), daemon=True).start()
        self.credentials_file = os.path.join(self.data_dir, "credentials")
        self.region = "us-east-1"

    def _wait_until_listening(self):
        for line in self.process.stdout:
            self.output.append(line)
            if line.startswith("{"):
                entry = json.loads(line)
                if entry.get("msg") == "Trent is listening":
                    self.url = entry["url"]
                    self.tls_url = entry.get("tlsUrl")
                    self.account_id = entry["accountId"]
                    return

    @staticmethod
    def _drain(stream, lines):
        for line in stream:
            lines.append(line)

    @property
    def address(self):
        parts = urlsplit(self.url)
        return parts.hostname, parts.port

    def admin_credentials(self):
        """(access key id, secret) of the `trent` profile in the credentials file."""
        profile = read_credentials_file(self.credentials_file)["trent"]
        return profile["aws_access_key_id"], profile["aws_secret_access_key"]

    def env(self):
        """Environment for the AWS CLI, exactly as README tells a user to set it."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(AWS_SHARED_CREDENTIALS_FILE=self.credentials_file, AWS_PROFILE="trent",
                   AWS_CONFIG_FILE=os.devnull)
        return env

    def client(self, access_key_id=None, secret_access_key=None, session_token=None, config=NO_RETRIES):
        """A boto3 KMS client with explicit credentials (default: the admin's)."""
        if access_key_id is None:
            access_key_id, secret_access_key = self.admin_credentials()
        session = boto3.session.Session(aws_access_key_id=access_key_id,
                                        aws_secret_access_key=secret_access_key,
                                        aws_session_token=session_token, region_name=self.region)
        return session.client("kms", endpoint_url=self.url, config=config)

    def stop(self, keep_data=None):
        """Stops the server. Its data directory is removed only if this Trent made it, unless
        `keep_data` says otherwise (keep_data=True keeps a temporary directory for a restart)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        keep = not self.owns_data_dir if keep_data is None else keep_data
        if not keep:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            database = _databases.pop(_data_key(self.data_dir), None)
            if database is not None:
                drop_database(database)


def read_credentials_file(path):
    parser = configparser.ConfigParser()
    with open(path, encoding="utf-8") as f:
        parser.read_file(f)
    return parser


def run_trent_cli(*args, timeout=30):
    """Runs the `trent` admin CLI (`node dist/src/cli/main.js ...`). `--data DIR` of a Trent that
    runs on PostgreSQL adds `--store` with that Trent's database, unless args give one."""
    args = [str(arg) for arg in args]
    if "--data" in args and "--store" not in args:
        index = args.index("--data")
        database = database_of(args[index + 1]) if index + 1 < len(args) else None
        if database is not None:
            args += ["--store", database]
    env = {k: v for k, v in os.environ.items() if k != "TRENT_STORE"}
    return subprocess.run(["node", str(CLI), *args], capture_output=True, text=True, timeout=timeout, env=env)


class RawResponse:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)

    def header(self, name):
        return self.headers.get(name)

    def __repr__(self):
        return f"<{self.status} {self.body[:300]!r}>"


class RawKms:
    """Crafts KMS requests byte by byte (duplicate headers, bad bodies, odd signatures) and signs
    them with botocore's own SigV4 signer, so a test controls exactly what goes on the wire."""

    def __init__(self, trent, access_key_id, secret_access_key):
        self.trent = trent
        self.host, self.port = trent.address
        self.access_key_id = access_key_id
        self.secret_access_key = secret_access_key

    @property
    def host_header(self):
        return f"{self.host}:{self.port}"

    def sign(self, body=b"", headers=None, *, service="kms", region=None, access_key_id=None,
             secret_access_key=None, session_token=None, clock_offset=None, method="POST"):
        """Returns the request's headers as a list of (name, value) pairs, with Host, X-Amz-Date
        and Authorization added; every header in `headers` is signed."""
        to_sign = {"Host": self.host_header, **(headers or {})}
        request = AWSRequest(method=method, url=f"http://{self.host_header}/", data=body, headers=to_sign)
        credentials = Credentials(access_key_id or self.access_key_id,
                                  secret_access_key or self.secret_access_key, session_token)
        signer = botocore.auth.SigV4Auth(credentials, service, region or self.trent.region)
        if clock_offset is None:
            signer.add_auth(request)
        else:
            now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) + clock_offset
            with mock.patch.object(botocore.auth, "get_current_datetime", return_value=now):
                signer.add_auth(request)
        return list(request.headers.items())

    def kms_headers(self, operation, content_type=JSON_CONTENT_TYPE):
        headers = {"Content-Type": content_type}
        if operation is not None:
            headers["X-Amz-Target"] = f"TrentService.{operation}"
        return headers

    def call(self, operation, payload=None, *, body=None, content_type=JSON_CONTENT_TYPE,
             extra_headers=(), timeout=15, **sign_options):
        """Sends a signed KMS request. `payload` is JSON-encoded unless a raw `body` is given;
        `extra_headers` are appended unsigned (and may duplicate signed ones)."""
        if body is None:
            body = json.dumps({} if payload is None else payload).encode()
        headers = self.sign(body, self.kms_headers(operation, content_type), **sign_options)
        return self.send(headers + list(extra_headers), body, timeout=timeout)

    def send(self, headers, body=b"", method="POST", path="/", timeout=15, content_length=True):
        """Sends exactly these headers (plus Content-Length unless told not to) and body bytes;
        returns a RawResponse."""
        connection = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            for name, value in headers:
                connection.putheader(name, value)
            if content_length and (body or method == "POST"):
                connection.putheader("Content-Length", str(len(body)))
            connection.endheaders()
            try:
                if body:
                    connection.send(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # The server may answer (413) and close before reading the whole body.
            response = connection.getresponse()
            return RawResponse(response.status, response.headers, response.read())
        finally:
            connection.close()


def error_of(excinfo):
    """(code, message, HTTP status) of a botocore ClientError caught by pytest.raises."""
    error = excinfo.value
    assert isinstance(error, ClientError), error
    return (error.response["Error"]["Code"], error.response["Error"].get("Message", ""),
            error.response["ResponseMetadata"]["HTTPStatusCode"])
