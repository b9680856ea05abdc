"""Custom key stores of type AWS_CLOUDHSM on SoftHSM2 tokens (docs/custom-key-stores.md): the store
operations with AWS's connection states and errors, and KMS keys whose material lives in a token."""
import json
import os
import secrets
import shutil
import subprocess
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

import harness
from harness import Trent, error_of

HERE = Path(__file__).resolve().parent
TOKEN_SCRIPT = harness.ROOT / "scripts" / "softhsm-test-token.mjs"
NOT_INSTALLED = 3
PIN = "kmsuser-pin-1"
SO_PIN = "so-pin-12345"
# A throwaway self-signed certificate: Trent keeps the trust anchor and checks only that it is one.
TRUST_ANCHOR = """-----BEGIN CERTIFICATE-----
MIIBfzCCASWgAwIBAgIUYFeNoOWxl1fQrTI+GQnU8TbeLd4wCgYIKoZIzj0EAwIw
FTETMBEGA1UEAwwKY3VzdG9tZXJDQTAeFw0yNjExMjYwMTI3MzRaFw0zNjExMjMw
MTI3MzRaMBUxEzARBgNVBAMMCmN1c3RvbWVyQ0EwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAAQNtbpCvhO5xieKsGBKNbwpWx2nPOMsJJoZJ56juz/et+x6IHePWm/C
I91buMdQEhsPLuF/JgK57QLR0xZvSod3o1MwUTAdBgNVHQ4EFgQUr4sAgHHk+G76
FPoUqc6c5HNEbT8wHwYDVR0jBBgwFoAUr4sAgHHk+G76FPoUqc6c5HNEbT8wDwYD
VR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNIADBFAiEAy2aB71UshY0GrW1xBFq4
+QbQ3swbawqHI55J9/WYT0sCIEybxqU066viES3tyDecC+kLXmovR8/gVMMFwgm0
yGyR
-----END CERTIFICATE-----
"""
CKK_GENERIC_SECRET = 0x10


class Tokens:
    """A throwaway SoftHSM2 token directory with two tokens (user PIN `PIN`), as two clusters."""

    def __init__(self):
        made = subprocess.run(["node", str(TOKEN_SCRIPT), "create", "unused"], capture_output=True, text=True,
                              timeout=120)
        if made.returncode == NOT_INSTALLED and not os.environ.get("CI"):
            pytest.skip("SoftHSM2 is not installed (and could not be installed): no PKCS#11 tokens to test with")
        assert made.returncode == 0, made.stderr
        info = json.loads(made.stdout)
        self.module, self.conf, self.dir = info["modulePath"], info["conf"], info["dir"]
        self.env = {**os.environ, "SOFTHSM2_CONF": self.conf}
        for label in ("cks-one", "cks-two"):
            subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", label, "--pin", PIN,
                            "--so-pin", SO_PIN], check=True, capture_output=True, env=self.env, timeout=60)
        listed = subprocess.run(["node", str(harness.CLI), "hsm", "list-clusters", "--pkcs11-module", self.module],
                                capture_output=True, text=True, env=self.env, timeout=60)
        assert listed.returncode == 0, listed.stderr
        self.cluster = {c["TokenLabel"]: c["CloudHsmClusterId"] for c in json.loads(listed.stdout)["Clusters"]}

    def object(self, token_label, object_label):
        """What the token holds under a label (found, sensitive, extractable, keyType)."""
        shown = subprocess.run(["node", str(HERE / "token_object.mjs"), self.module, token_label, PIN, object_label],
                               capture_output=True, text=True, env=self.env, timeout=60, cwd=harness.ROOT)
        assert shown.returncode == 0, shown.stderr
        return json.loads(shown.stdout)

    def remove(self):
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def hsm():
    tokens = Tokens()
    trent = Trent(extra_args=("--pkcs11-module", tokens.module), extra_env={"SOFTHSM2_CONF": tokens.conf})
    try:
        yield tokens, trent, trent.client()
    finally:
        trent.stop()
        tokens.remove()


def code_of(call, *args, **kwargs):
    with pytest.raises(ClientError) as excinfo:
        call(*args, **kwargs)
    return error_of(excinfo)[0]


def create_store(kms, name, cluster, password=PIN):
    return kms.create_custom_key_store(CustomKeyStoreName=name, CloudHsmClusterId=cluster,
                                       KeyStorePassword=password, TrustAnchorCertificate=TRUST_ANCHOR)["CustomKeyStoreId"]


def entry(kms, store_id):
    return kms.describe_custom_key_stores(CustomKeyStoreId=store_id)["CustomKeyStores"][0]


def test_a_store_is_created_disconnected_and_connects_renames_disconnects_and_deletes(hsm):
    tokens, _, kms = hsm
    one, two = tokens.cluster["cks-one"], tokens.cluster["cks-two"]
    assert one.startswith("cluster-") and one != two
    store_id = create_store(kms, "lifecycle", one)
    assert store_id.startswith("cks-") and len(store_id) == 21
    shown = entry(kms, store_id)
    assert shown["CustomKeyStoreName"] == "lifecycle" and shown["CustomKeyStoreType"] == "AWS_CLOUDHSM"
    assert shown["CloudHsmClusterId"] == one and shown["TrustAnchorCertificate"] == TRUST_ANCHOR
    assert shown["ConnectionState"] == "DISCONNECTED" and "ConnectionErrorCode" not in shown
    assert "KeyStorePassword" not in json.dumps(shown, default=str)
    by_name = kms.describe_custom_key_stores(CustomKeyStoreName="lifecycle")["CustomKeyStores"]
    assert [s["CustomKeyStoreId"] for s in by_name] == [store_id]

    assert code_of(create_store, kms, "lifecycle", two) == "CustomKeyStoreNameInUseException"
    assert code_of(create_store, kms, "another", one) == "CloudHsmClusterInUseException"
    assert code_of(create_store, kms, "nowhere", "cluster-zzzzzzzzzzz") == "CloudHsmClusterNotFoundException"
    assert code_of(kms.create_custom_key_store, CustomKeyStoreName="bad-anchor", CloudHsmClusterId=two,
                   KeyStorePassword=PIN, TrustAnchorCertificate="not a certificate") == "IncorrectTrustAnchorException"
    assert code_of(kms.create_custom_key_store, CustomKeyStoreName="xks", CustomKeyStoreType="EXTERNAL_KEY_STORE",
                   XksProxyConnectivity="PUBLIC_ENDPOINT") == "UnsupportedOperationException"
    assert code_of(kms.describe_custom_key_stores, CustomKeyStoreId="cks-0123456789abcdef0") == \
        "CustomKeyStoreNotFoundException"

    # Paging, with a second store on the other token.
    other = create_store(kms, "paging", two)
    first = kms.describe_custom_key_stores(Limit=1)
    assert first["Truncated"] is True and len(first["CustomKeyStores"]) == 1
    rest = kms.describe_custom_key_stores(Limit=1, Marker=first["NextMarker"])
    assert rest["Truncated"] is False
    assert {first["CustomKeyStores"][0]["CustomKeyStoreId"], rest["CustomKeyStores"][0]["CustomKeyStoreId"]} == \
        {store_id, other}
    kms.delete_custom_key_store(CustomKeyStoreId=other)

    assert kms.connect_custom_key_store(CustomKeyStoreId=store_id)["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert entry(kms, store_id)["ConnectionState"] == "CONNECTED"
    kms.connect_custom_key_store(CustomKeyStoreId=store_id)  # connecting a connected store changes nothing
    assert code_of(kms.update_custom_key_store, CustomKeyStoreId=store_id, KeyStorePassword="another-pin") == \
        "CustomKeyStoreInvalidStateException"
    kms.update_custom_key_store(CustomKeyStoreId=store_id, NewCustomKeyStoreName="renamed")
    assert entry(kms, store_id)["CustomKeyStoreName"] == "renamed"
    assert code_of(kms.delete_custom_key_store, CustomKeyStoreId=store_id) == "CustomKeyStoreInvalidStateException"

    kms.disconnect_custom_key_store(CustomKeyStoreId=store_id)
    assert entry(kms, store_id)["ConnectionState"] == "DISCONNECTED"
    assert code_of(kms.disconnect_custom_key_store, CustomKeyStoreId=store_id) == \
        "CustomKeyStoreInvalidStateException"
    kms.delete_custom_key_store(CustomKeyStoreId=store_id)
    assert code_of(kms.describe_custom_key_stores, CustomKeyStoreId=store_id) == "CustomKeyStoreNotFoundException"


def test_a_wrong_password_fails_the_connection_with_invalid_credentials_until_it_is_updated(hsm):
    tokens, _, kms = hsm
    store_id = create_store(kms, "wrong-password", tokens.cluster["cks-two"], password="not-the-pin")
    kms.connect_custom_key_store(CustomKeyStoreId=store_id)
    shown = entry(kms, store_id)
    assert (shown["ConnectionState"], shown.get("ConnectionErrorCode")) == ("FAILED", "INVALID_CREDENTIALS")
    # A FAILED store is disconnected before it is connected again, or updated.
    assert code_of(kms.connect_custom_key_store, CustomKeyStoreId=store_id) == "CustomKeyStoreInvalidStateException"
    assert code_of(kms.update_custom_key_store, CustomKeyStoreId=store_id, KeyStorePassword=PIN) == \
        "CustomKeyStoreInvalidStateException"
    kms.disconnect_custom_key_store(CustomKeyStoreId=store_id)
    shown = entry(kms, store_id)
    assert shown["ConnectionState"] == "DISCONNECTED" and "ConnectionErrorCode" not in shown
    kms.update_custom_key_store(CustomKeyStoreId=store_id, KeyStorePassword=PIN)
    kms.connect_custom_key_store(CustomKeyStoreId=store_id)
    assert entry(kms, store_id)["ConnectionState"] == "CONNECTED"
    kms.disconnect_custom_key_store(CustomKeyStoreId=store_id)
    kms.delete_custom_key_store(CustomKeyStoreId=store_id)


def test_keys_in_a_store_live_in_its_token_and_are_unusable_while_it_is_disconnected(hsm):
    tokens, trent, kms = hsm
    cluster = tokens.cluster["cks-one"]
    store_id = create_store(kms, "keys", cluster)
    assert code_of(kms.create_key, CustomKeyStoreId=store_id, Origin="AWS_CLOUDHSM") == \
        "CustomKeyStoreInvalidStateException"
    kms.connect_custom_key_store(CustomKeyStoreId=store_id)

    metadata = kms.create_key(CustomKeyStoreId=store_id, Origin="AWS_CLOUDHSM", Description="in a token")["KeyMetadata"]
    key_id = metadata["KeyId"]
    assert metadata["Origin"] == "AWS_CLOUDHSM" and metadata["CustomKeyStoreId"] == store_id
    assert metadata["CloudHsmClusterId"] == cluster and metadata["KeySpec"] == "SYMMETRIC_DEFAULT"
    described = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert (described["KeyState"], described["CustomKeyStoreId"], described["CloudHsmClusterId"]) == \
        ("Enabled", store_id, cluster)
    assert code_of(kms.create_key, CustomKeyStoreId=store_id, Origin="AWS_CLOUDHSM", KeySpec="RSA_2048",
                   KeyUsage="ENCRYPT_DECRYPT") == "UnsupportedOperationException"
    held = tokens.object("cks-one", key_id)
    assert held == {"found": True, "sensitive": True, "extractable": False, "keyType": CKK_GENERIC_SECRET}

    context = {"purpose": "custom-key-store-test"}
    sealed = kms.encrypt(KeyId=key_id, Plaintext=b"kept in a token", EncryptionContext=context)["CiphertextBlob"]
    assert sealed[1] == 2  # key type 2: content key derived in the token (docs/ciphertext-format.md)
    opened = kms.decrypt(CiphertextBlob=sealed, EncryptionContext=context)
    assert opened["Plaintext"] == b"kept in a token" and opened["KeyId"].endswith(key_id)
    data_key = kms.generate_data_key(KeyId=key_id, KeySpec="AES_256")
    assert kms.decrypt(CiphertextBlob=data_key["CiphertextBlob"])["Plaintext"] == data_key["Plaintext"]
    without = kms.generate_data_key_without_plaintext(KeyId=key_id, NumberOfBytes=24)
    assert len(kms.decrypt(CiphertextBlob=without["CiphertextBlob"])["Plaintext"]) == 24
    ordinary = kms.create_key()["KeyMetadata"]["KeyId"]
    moved = kms.re_encrypt(CiphertextBlob=sealed, SourceEncryptionContext=context, DestinationKeyId=ordinary)
    back = kms.re_encrypt(CiphertextBlob=moved["CiphertextBlob"], DestinationKeyId=key_id)
    assert kms.decrypt(CiphertextBlob=back["CiphertextBlob"])["Plaintext"] == b"kept in a token"

    tampered = bytearray(sealed)
    tampered[-1] ^= 1
    assert code_of(kms.decrypt, CiphertextBlob=bytes(tampered), EncryptionContext=context) == \
        "InvalidCiphertextException"
    assert code_of(kms.decrypt, CiphertextBlob=sealed) == "InvalidCiphertextException"
    retyped = bytearray(sealed)
    retyped[1] = 1  # the same blob presented as an ordinary ciphertext
    assert code_of(kms.decrypt, CiphertextBlob=bytes(retyped), EncryptionContext=context) == \
        "InvalidCiphertextException"
    assert code_of(kms.enable_key_rotation, KeyId=key_id) == "UnsupportedOperationException"
    assert len(kms.generate_random(NumberOfBytes=16, CustomKeyStoreId=store_id)["Plaintext"]) == 16

    kms.disconnect_custom_key_store(CustomKeyStoreId=store_id)
    described = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert (described["KeyState"], described["Enabled"]) == ("Unavailable", False)
    assert code_of(kms.encrypt, KeyId=key_id, Plaintext=b"x") == "KMSInvalidStateException"
    assert code_of(kms.decrypt, CiphertextBlob=sealed, EncryptionContext=context) == "KMSInvalidStateException"
    assert code_of(kms.generate_data_key, KeyId=key_id, KeySpec="AES_256") == "KMSInvalidStateException"
    assert code_of(kms.generate_random, NumberOfBytes=8, CustomKeyStoreId=store_id) == \
        "CustomKeyStoreInvalidStateException"
    assert code_of(kms.delete_custom_key_store, CustomKeyStoreId=store_id) == "CustomKeyStoreHasCMKsException"

    kms.connect_custom_key_store(CustomKeyStoreId=store_id)
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"
    assert kms.decrypt(CiphertextBlob=sealed, EncryptionContext=context)["Plaintext"] == b"kept in a token"

    checked = harness.run_trent_cli("check", "--data", trent.data_dir)
    assert checked.returncode == 0, checked.stdout + checked.stderr

    scheduled = kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    assert scheduled["KeyState"] == "PendingDeletion"
    kms.disconnect_custom_key_store(CustomKeyStoreId=store_id)
    # Pending deletion outlasts the disconnection, so the deletion can still be cancelled.
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "PendingDeletion"
    assert code_of(kms.delete_custom_key_store, CustomKeyStoreId=store_id) == "CustomKeyStoreHasCMKsException"
    assert tokens.object("cks-one", key_id)["found"] is True


def test_the_key_store_password_is_nowhere_in_what_trent_writes(hsm):
    """The KeyStorePassword is a sensitive member: not in audit records, logs or error messages."""
    tokens, trent, kms = hsm
    first, second, too_long = (f"pw-{secrets.token_urlsafe(12)}", f"pw-{secrets.token_urlsafe(12)}",
                               secrets.token_urlsafe(30))
    store_id = create_store(kms, "secret-scan", tokens.cluster["cks-two"], password=first)
    kms.update_custom_key_store(CustomKeyStoreId=store_id, KeyStorePassword=second)
    with pytest.raises(ClientError) as refused:
        kms.update_custom_key_store(CustomKeyStoreId=store_id, KeyStorePassword=too_long)
    assert error_of(refused)[0] == "ValidationException" and too_long not in str(refused.value)
    kms.connect_custom_key_store(CustomKeyStoreId=store_id)  # the wrong PIN for cks-two: tried, and FAILED
    assert entry(kms, store_id)["ConnectionErrorCode"] == "INVALID_CREDENTIALS"
    kms.disconnect_custom_key_store(CustomKeyStoreId=store_id)
    kms.delete_custom_key_store(CustomKeyStoreId=store_id)

    written = "".join(trent.output) + "".join(trent.errors)
    records = []
    for path in Path(trent.data_dir).rglob("*"):
        if path.is_file():
            written += path.read_bytes().decode("latin-1")
            if path.suffix == ".log" and path.parent.name == "audit":
                records += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    for secret in (first, second, too_long):
        assert secret not in written
    updates = [r for r in records if r.get("eventName") in ("CreateCustomKeyStore", "UpdateCustomKeyStore")]
    assert len(updates) >= 3
    assert all("keyStorePassword" not in json.dumps(r.get("requestParameters")) for r in updates)
