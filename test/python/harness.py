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
CLI = ROOT / "dist" / "src" / "cli" / "main.js"
JSON_CONTENT_TYPE = "application/x-amz-json-1.1"
# No retries: every request a test makes is sent exactly once, and failures surface at once.
NO_RETRIES = botocore.config.Config(retries={"max_attempts": 1, "mode": "standard"},
                                    connect_timeout=5, read_timeout=30)


class TrentDidNotStart(RuntimeError):
    def __init__(self, exit_code, stdout, stderr):
        super().__init__(f"Trent did not start (exit code {exit_code}): {stderr or stdout}")
        self.exit_code, self.stdout, self.stderr = exit_code, stdout, stderr


class Trent:
    """One `trent serve` process. With `data_dir` it runs on that directory and stop() leaves it
    in place (a restart test starts a second Trent on the first one's data); without, it makes a
    fresh temporary directory that stop() removes unless called with keep_data=True."""

    def __init__(self, extra_args=(), data_dir=None):
        self.owns_data_dir = data_dir is None
        self.data_dir = tempfile.mkdtemp(prefix="trent-pytest-") if data_dir is None else str(data_dir)
        env = dict(os.environ, TRENT_LOG_LEVEL="info")
        self.process = subprocess.Popen(
            ["node", str(CLI), "serve", "--listen", "127.0.0.1:0", "--data", self.data_dir,
             "--key-pair-pool", "0", *extra_args],
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


def read_credentials_file(path):
    parser = configparser.ConfigParser()
    with open(path, encoding="utf-8") as f:
        parser.read_file(f)
    return parser


def run_trent_cli(*args, timeout=30):
    """Runs the `trent` admin CLI (`node dist/src/cli/main.js ...`)."""
    return subprocess.run(["node", str(CLI), *args], capture_output=True, text=True, timeout=timeout)


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
