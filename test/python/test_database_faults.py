"""Database faults under load (issue 5): a few clients keep creating keys, encrypting and generating
data keys while the PostgreSQL server under Trent is stopped for a few seconds (or restarted) and
started again. While it is down every request is answered fast with a retryable KMS error, never
hangs and never has its connection dropped; afterwards Trent serves again by itself, without a
restart; and everything it acknowledged, before, during or after, is still there and decrypts.

The database is a dedicated PostgreSQL cluster of this module's own, so stopping it disturbs no
other test."""
import os
import random
import signal
import threading
import time
import uuid

import botocore.config
import botocore.exceptions
import pytest
from botocore.exceptions import ClientError

from harness import POSTGRES_URL, PostgresCluster, Trent, create_database, drop_database, report

pytestmark = pytest.mark.skipif(
    POSTGRES_URL is None,
    reason="database faults are PostgreSQL's: set TRENT_TEST_POSTGRES_URL (scripts/test.sh starts one) to run them")

THREADS = 3
PAUSE_S = 0.05  # between one thread's requests: a light load
OUTAGE_S = 4.0
FROZEN_S = 8.0
# Every request is answered within this, database down or not (connect timeout 2 s, statement
# timeout 5 s, the client-side query timeout 6 s, plus a little for the request itself).
ANSWER_BOUND_S = 6.5
# After the database is back, requests succeed again within this.
RECOVERY_BOUND_S = 5.0
RETRYABLE = {(503, "DependencyTimeoutException"), (500, "KMSInternalException")}
# One attempt per request, and a read timeout well beyond ANSWER_BOUND_S, so that a hang shows as
# a long answer time rather than as a retry.
CLIENT_CONFIG = botocore.config.Config(retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=5,
                                       read_timeout=30)


@pytest.fixture(scope="module")
def cluster():
    cluster = PostgresCluster()
    yield cluster
    cluster.stop()


@pytest.fixture
def trent(cluster):
    database = create_database(cluster.url)
    server = Trent(store=database)
    yield server
    server.stop()
    drop_database(database)


class Record:
    def __init__(self, operation, start, end, outcome, status=None, message=""):
        self.operation, self.start, self.end = operation, start, end
        self.outcome, self.status, self.message = outcome, status, message

    @property
    def ok(self):
        return self.outcome == "ok"

    @property
    def seconds(self):
        return self.end - self.start

    def __repr__(self):
        return (f"<{self.operation} at +{self.start:.2f}s took {self.seconds:.2f}s: {self.outcome}"
                f"{'' if self.status is None else f' ({self.status})'} {self.message[:120]}>")


class Load:
    """THREADS threads each sending CreateKey, Encrypt and GenerateDataKey in turn, recording every
    request and everything acknowledged: the keys created and each (key, ciphertext, plaintext,
    encryption context)."""

    def __init__(self, trent):
        self.trent = trent
        self.records = []
        self.keys = [trent.client().create_key(Description="seed")["KeyMetadata"]["KeyId"]]
        self.ciphertexts = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.running = threading.Event()  # cleared: the load threads hold off between requests
        self.running.set()
        self.busy = 0
        self.clients = [trent.client(config=CLIENT_CONFIG) for _ in range(THREADS)]
        self.probe_client = trent.client(config=CLIENT_CONFIG)
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(THREADS)]
        self.errors = []

    def start(self):
        for thread in self.threads:
            thread.start()

    def stop(self):
        self.stopping.set()
        self.running.set()
        for thread in self.threads:
            thread.join(timeout=60)
        assert not any(thread.is_alive() for thread in self.threads), "a load thread is stuck"
        assert not self.errors, f"load threads failed: {self.errors}"

    def _one(self, client, operation, rng):
        if operation == "CreateKey":
            key_id = client.create_key(Description="made under load")["KeyMetadata"]["KeyId"]
            return lambda: self.keys.append(key_id)
        with self.lock:
            key_id = rng.choice(self.keys)
        context = {"request": uuid.uuid4().hex}
        if operation == "Encrypt":
            plaintext = os.urandom(rng.randint(1, 256))
            blob = client.encrypt(KeyId=key_id, Plaintext=plaintext, EncryptionContext=context)["CiphertextBlob"]
        else:
            response = client.generate_data_key(KeyId=key_id, KeySpec="AES_256", EncryptionContext=context)
            plaintext, blob = response["Plaintext"], response["CiphertextBlob"]
        return lambda: self.ciphertexts.append((operation, key_id, blob, plaintext, context))

    def _request(self, client, operation, rng):
        """Sends one request and records it (and what it acknowledged)."""
        start = time.monotonic()
        try:
            acknowledge = self._one(client, operation, rng)
            record = Record(operation, start, time.monotonic(), "ok")
            with self.lock:
                acknowledge()
        except ClientError as error:
            record = Record(operation, start, time.monotonic(), error.response["Error"]["Code"],
                            error.response["ResponseMetadata"]["HTTPStatusCode"],
                            error.response["Error"].get("Message", ""))
        except botocore.exceptions.BotoCoreError as error:  # reset, refused, read timeout
            record = Record(operation, start, time.monotonic(), type(error).__name__, None, str(error))
        with self.lock:
            self.records.append(record)

    def _run(self, index):
        client, rng = self.clients[index], random.Random(index)
        operations = ["CreateKey", "Encrypt", "GenerateDataKey"]
        n = index
        try:
            while not self.stopping.is_set():
                self.running.wait()
                with self.lock:
                    self.busy += 1
                try:
                    self._request(client, operations[n % len(operations)], rng)
                finally:
                    with self.lock:
                        self.busy -= 1
                n += 1
                time.sleep(PAUSE_S)
        except Exception as error:  # noqa: BLE001 - reported by stop()
            self.errors.append(repr(error))

    def pause(self):
        """Holds the load threads off and waits until none has a request in flight."""
        self.running.clear()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with self.lock:
                if self.busy == 0:
                    return
            time.sleep(0.005)
        raise AssertionError("the load threads did not pause")

    def resume(self):
        self.running.set()

    def probe(self, operation):
        """Sends one more request at once, beside the load, on a thread of its own (joined by stop())."""
        client, rng = self.probe_client, random.Random()

        def run():
            try:
                self._request(client, operation, rng)
            except Exception as error:  # noqa: BLE001 - reported by stop()
                self.errors.append(repr(error))
        thread = threading.Thread(target=run, daemon=True)
        self.threads.append(thread)
        thread.start()

    def wait_for_successes(self, count, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if sum(1 for r in self.records if r.ok) >= count:
                    return
            time.sleep(0.05)
        raise AssertionError(f"fewer than {count} requests succeeded in {timeout} s: {self.records[-5:]}")


def postgres_processes(cluster):
    """The pids of the cluster's postmaster and of its children (backends, background workers)."""
    with open(os.path.join(cluster.data_dir, "postmaster.pid"), encoding="utf-8") as f:
        postmaster = int(f.readline())
    children = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", encoding="utf-8") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == postmaster:
                children.append(int(entry))
    return [postmaster, *children]


class Frozen:
    """A database that stops answering without closing anything (a stalled host, a network
    partition): every PostgreSQL process is stopped with SIGSTOP, and continued with SIGCONT."""

    def __init__(self, cluster):
        self.cluster, self.pids = cluster, []

    def halt(self):
        self.pids = postgres_processes(self.cluster)
        for pid in self.pids:
            os.kill(pid, signal.SIGSTOP)

    def resume(self):
        for pid in self.pids:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass


def run_outage(trent, database, outage_s, label, quiesce=False):
    """Runs the load, takes the database away (database.halt()) for outage_s (0: a restart),
    brings it back (database.resume()), and lets the load run on until Trent has recovered.
    Returns the load and the times of the four steps.

    Right after the database goes, one more CreateKey is sent: a write while the caches still
    hold the caller's identity and policies, so that it goes straight to a transaction. With
    `quiesce`, the load holds off for the moment of the fault, so that this write finds an idle
    pooled connection (an open connection to a database that no longer answers)."""
    load = Load(trent)
    pid = trent.process.pid
    load.start()
    try:
        load.wait_for_successes(30)
        if quiesce:
            load.pause()
            time.sleep(0.1)  # the announcements of the last writes drop the caches: let them land first
            load.probe_client.list_keys()  # a read: it fills the caches with the caller's identity
        halting = time.monotonic()
        try:
            database.halt()
            halted = time.monotonic()
            load.probe("CreateKey")
            load.resume()
            time.sleep(outage_s)
        finally:
            resuming = time.monotonic()
            database.resume()
        resumed = time.monotonic()
        # Long enough to recover within the bound and then to show that requests keep succeeding.
        time.sleep(RECOVERY_BOUND_S + 2.5)
    finally:
        load.stop()
    assert trent.process.poll() is None and trent.process.pid == pid, "Trent exited"
    base = load.records[0].start if load.records else halting
    report(f"database faults ({label}): stop took {halted - halting:.2f} s, down {resuming - halted:.2f} s, "
           f"start took {resumed - resuming:.2f} s; {len(load.records)} requests, "
           f"{sum(r.ok for r in load.records)} acknowledged (halt at +{halting - base:.2f} s)")
    return load, (halting, halted, resuming, resumed)


def check_outage(trent, load, times, label, expect_failures):
    halting, halted, resuming, resumed = times
    records = load.records

    # Never a hang: every request was answered, and fast.
    slowest = max(records, key=lambda r: r.seconds)
    assert slowest.seconds <= ANSWER_BOUND_S, f"a request took {slowest.seconds:.2f} s: {slowest}"

    # Never a dropped connection or an error a client would not retry: only the two retryable KMS errors.
    failures = [r for r in records if not r.ok]
    wrong = [r for r in failures if (r.status, r.outcome) not in RETRYABLE]
    assert not wrong, f"{len(wrong)} requests failed other than with 503/500 retryable KMS errors: {wrong[:10]}"

    # Before the database went away, nothing failed.
    assert not [r for r in failures if r.end < halting], "requests failed before the database was stopped"

    # While it was down (or going down, or coming back), requests failed, and fast.
    during = [r for r in records if r.start < resumed and r.end > halting]
    failed_during = [r for r in during if not r.ok]
    down = [r for r in records if r.start >= halted and r.end <= resuming]
    if expect_failures:
        # (A quick restart may fall between two requests; a few seconds down cannot.)
        assert down, "no request was sent while the database was down"
        assert not [r for r in down if r.ok and r.operation == "CreateKey"], "a key was created without the database"
        assert failed_during, f"no request failed while the database was down: {during[:10]}"

    # Trent recovered by itself: a request started after the database was back succeeded within the
    # bound, and every request started after that bound succeeded.
    after = [r for r in records if r.start >= resumed]
    first_ok = next((r for r in sorted(after, key=lambda r: r.end) if r.ok), None)
    assert first_ok is not None, f"no request succeeded after the database came back: {after[:10]}"
    recovery = first_ok.end - resumed
    assert recovery <= RECOVERY_BOUND_S, f"the first success came {recovery:.2f} s after the database was back"
    settled = [r for r in after if r.start >= resumed + RECOVERY_BOUND_S]
    assert len(settled) >= THREADS, f"too few requests after recovery to judge it: {settled}"
    assert all(r.ok for r in settled), f"requests still failing after recovery: {[r for r in settled if not r.ok]}"

    codes = sorted({f"{r.status} {r.outcome}" for r in failures})
    answers = [r.seconds for r in failed_during] or [0.0]
    report(f"database faults ({label}): {len(failed_during)} of {len(during)} requests around the outage failed "
           f"({', '.join(codes)}), answered in {min(answers):.3f}-{max(answers):.3f} s; "
           f"{len(down)} sent while fully down ({sum(r.ok for r in down)} succeeded); "
           f"first success {recovery:.2f} s after PostgreSQL was back; slowest answer overall {slowest.seconds:.2f} s")

    # Nothing acknowledged was lost: every key is there, every ciphertext opens to its plaintext.
    kms = trent.client()
    for key_id in load.keys:
        assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled", key_id
    acknowledged_during = sum(1 for r in during if r.ok)
    for operation, key_id, blob, plaintext, context in load.ciphertexts:
        decrypted = kms.decrypt(CiphertextBlob=blob, EncryptionContext=context)
        assert decrypted["Plaintext"] == plaintext, f"{operation} under {key_id}: wrong plaintext"
        assert decrypted["KeyId"].endswith(f":key/{key_id}")
    report(f"database faults ({label}): all {len(load.keys)} keys and {len(load.ciphertexts)} ciphertexts "
           f"acknowledged ({acknowledged_during} of them around the outage) still describe and decrypt")


def test_requests_fail_fast_while_postgresql_is_down_and_nothing_acknowledged_is_lost(trent, cluster):
    load, times = run_outage(trent, cluster, OUTAGE_S, f"down {OUTAGE_S:.0f} s")
    check_outage(trent, load, times, f"down {OUTAGE_S:.0f} s", expect_failures=True)


def test_a_postgresql_restart_under_load_loses_nothing(trent, cluster):
    load, times = run_outage(trent, cluster, 0, "restart")
    check_outage(trent, load, times, "restart", expect_failures=False)


def test_requests_time_out_fast_while_postgresql_stops_answering(trent, cluster):
    # Connections stay open and new ones are accepted by the kernel, but nothing answers: only
    # Trent's own timeouts stop a request from hanging. Frozen long enough for them all to fire.
    load, times = run_outage(trent, Frozen(cluster), FROZEN_S, f"frozen {FROZEN_S:.0f} s", quiesce=True)
    check_outage(trent, load, times, f"frozen {FROZEN_S:.0f} s", expect_failures=True)
