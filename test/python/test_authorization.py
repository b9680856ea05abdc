"""Authorization as AWS KMS does it (issue 4), through the running server with boto3 and the AWS
CLI: principals set up with the `trent` CLI, key policies, identity policies, grants, DryRun and a
representative subset of condition keys. Every test makes its own principals (each with a fresh
access key) and its own keys and aliases, so tests never depend on one another."""
import json
import re
import subprocess
import uuid

import pytest
from botocore.exceptions import ClientError

from harness import error_of, read_credentials_file, run_trent_cli

BOB_ACCOUNT = "222233334444"
OTHER_ACCOUNT = "333344445555"

# The two identity policies of docs/authorization.md's "Two users in two accounts".
KMS_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}
USE_SHARED_KEY = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"], "Resource": "*"}]}


# --- helpers -----------------------------------------------------------------------------------

def suffix():
    return uuid.uuid4().hex[:10]


def cli(trent, *args):
    """Runs `trent ... --data DIR` and fails the test with its stderr if it fails."""
    result = run_trent_cli(*args, "--data", trent.data_dir)
    assert result.returncode == 0, f"trent {' '.join(args)} failed: {result.stderr}"
    return result


def account_args(account):
    return ("--account-id", account) if account is not None else ()


class Principal:
    """A user (or role) made with `trent access-key create`, with a boto3 client of its own."""

    def __init__(self, trent, name, account=None, kind="user", credentials_file=None, profile=None):
        self.trent, self.name, self.kind = trent, name, kind
        self.account = account or trent.account_id
        self.arn = f"arn:aws:iam::{self.account}:{kind}/{name}"
        args = ["access-key", "create", f"--{kind}", name, *account_args(account)]
        if credentials_file is not None:
            args += ["--credentials-file", str(credentials_file), "--profile", profile]
        created = cli(trent, *args)
        if credentials_file is None:
            issued = json.loads(created.stdout)
            assert issued["Arn"] == self.arn
            self.access_key_id, self.secret = issued["AccessKeyId"], issued["SecretAccessKey"]
        else:
            section = read_credentials_file(credentials_file)[profile]
            self.access_key_id, self.secret = section["aws_access_key_id"], section["aws_secret_access_key"]
        self.credentials_file, self.profile = credentials_file, profile
        self.kms = trent.client(self.access_key_id, self.secret)

    def _selector(self):
        return (f"--{self.kind}", self.name, *account_args(None if self.account == self.trent.account_id
                                                              else self.account))

    def put_policy(self, name, document):
        cli(self.trent, "identity-policy", "put", *self._selector(), "--name", name,
            "--document", document if isinstance(document, str) else json.dumps(document))
        return self

    def delete_policy(self, name):
        cli(self.trent, "identity-policy", "delete", *self._selector(), "--name", name)

    def list_policies(self):
        return cli(self.trent, "identity-policy", "list", *self._selector()).stdout


def principal(trent, prefix, account=None, policy=None, kind="user"):
    """A new principal with a unique name, optionally with one identity policy attached."""
    made = Principal(trent, f"{prefix}-{suffix()}", account, kind)
    if policy is not None:
        made.put_policy("policy", policy)
    return made


def denied(call, *args, **kwargs):
    """Runs a boto3 call that must be denied; returns the AccessDeniedException's message."""
    with pytest.raises(ClientError) as excinfo:
        call(*args, **kwargs)
    code, message, status = error_of(excinfo)
    assert (code, status) == ("AccessDeniedException", 400), (code, message)
    return message


def fails_with(code, call, *args, **kwargs):
    with pytest.raises(ClientError) as excinfo:
        call(*args, **kwargs)
    assert error_of(excinfo)[0] == code, error_of(excinfo)
    return error_of(excinfo)[1]


def assert_names(message, principal_arn, action, resource):
    """AWS's AccessDeniedException names the principal, the action and the resource."""
    assert re.match(rf"User: {re.escape(principal_arn)} is not authorized to perform: {re.escape(action)} "
                    rf"on resource: {re.escape(resource)}\b", message), message


def statement(effect, principal_aws, actions, condition=None, sid=None):
    result = {"Effect": effect, "Principal": {"AWS": principal_aws}, "Action": actions, "Resource": "*"}
    if sid is not None:
        result["Sid"] = sid
    if condition is not None:
        result["Condition"] = condition
    return result


def policy_of(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def root(account):
    return f"arn:aws:iam::{account}:root"


def aws_cli(trent, who, *args):
    """The AWS CLI as `who`, through the credentials file and profile `trent access-key create` wrote."""
    env = trent.env()
    env.update(AWS_SHARED_CREDENTIALS_FILE=str(who.credentials_file), AWS_PROFILE=who.profile)
    return subprocess.run(["aws", "kms", *args, "--endpoint-url", trent.url, "--output", "json"],
                          capture_output=True, text=True, env=env, timeout=60)


# --- 1. Two users in two accounts (docs/authorization.md's last section) -----------------------

@pytest.fixture(scope="module")
def alice_and_bob(trent, tmp_path_factory):
    """Alice in Trent's account and Bob in 222233334444, set up with exactly the documented commands."""
    home = tmp_path_factory.mktemp("two-accounts")
    alice = Principal(trent, f"alice-{suffix()}", None, credentials_file=home / "alice.ini", profile="alice")
    alice.put_policy("kms-all", json.dumps(KMS_ALL, separators=(",", ":")))
    bob = Principal(trent, f"bob-{suffix()}", BOB_ACCOUNT, credentials_file=home / "bob.ini", profile="bob")
    bob.put_policy("use-shared-key", json.dumps(USE_SHARED_KEY, separators=(",", ":")))
    return alice, bob


def alices_key(alice):
    """A fresh key of Alice's with a fresh alias; returns (metadata, alias name, alias ARN)."""
    key = alice.kms.create_key(Description="alice's shared key")["KeyMetadata"]
    alias = f"alias/shared-{suffix()}"
    alice.kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    return key, alias, key["Arn"].split(":key/")[0] + ":" + alias


def policy_sharing_with(alice, account, *extra):
    """Alice's key policy: her account keeps `kms:*` (delegated to IAM), `account` may use the key."""
    return policy_of(
        statement("Allow", root(alice.account), "kms:*", sid="Enable IAM User Permissions"),
        statement("Allow", root(account), ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
                  sid="Allow use of the key by another account"),
        *extra)


def test_the_documented_setup_gives_each_user_a_profile_and_a_policy(trent, alice_and_bob):
    alice, bob = alice_and_bob
    assert alice.arn == f"arn:aws:iam::{trent.account_id}:user/{alice.name}"
    assert bob.arn == f"arn:aws:iam::{BOB_ACCOUNT}:user/{bob.name}"
    assert read_credentials_file(alice.credentials_file).sections() == ["alice"]
    assert read_credentials_file(bob.credentials_file).sections() == ["bob"]
    assert "kms-all" in alice.list_policies()
    assert "use-shared-key" in bob.list_policies()
    # Alice's identity policy lets her create keys; Bob's does not.
    alice.kms.create_key(Description="alice can create keys")
    denied(bob.kms.create_key)


def test_bob_is_denied_until_alices_key_policy_names_his_account(trent, alice_and_bob):
    alice, bob = alice_and_bob
    key, alias, alias_arn = alices_key(alice)
    message = denied(bob.kms.encrypt, KeyId=key["Arn"], Plaintext=b"x")
    assert_names(message, bob.arn, "kms:Encrypt", key["Arn"])
    assert_names(denied(bob.kms.generate_data_key, KeyId=alias_arn, KeySpec="AES_256"),
                 bob.arn, "kms:GenerateDataKey", key["Arn"])
    secret = alice.kms.encrypt(KeyId=key["KeyId"], Plaintext=b"for bob")["CiphertextBlob"]
    denied(bob.kms.decrypt, CiphertextBlob=secret, KeyId=key["Arn"])

    alice.kms.put_key_policy(KeyId=key["KeyId"], PolicyName="default", Policy=policy_sharing_with(alice, BOB_ACCOUNT))

    for key_id in (key["Arn"], alias_arn):
        ciphertext = bob.kms.encrypt(KeyId=key_id, Plaintext=b"bob's data")["CiphertextBlob"]
        assert bob.kms.decrypt(CiphertextBlob=ciphertext, KeyId=key_id)["Plaintext"] == b"bob's data"
        data_key = bob.kms.generate_data_key(KeyId=key_id, KeySpec="AES_256")
        assert data_key["KeyId"] == key["Arn"]
        assert bob.kms.decrypt(CiphertextBlob=data_key["CiphertextBlob"])["Plaintext"] == data_key["Plaintext"]
    # Bob decrypts what Alice encrypted, naming the key or not (the ciphertext names it).
    assert bob.kms.decrypt(CiphertextBlob=secret)["Plaintext"] == b"for bob"
    assert bob.kms.decrypt(CiphertextBlob=secret, KeyId=alias_arn)["Plaintext"] == b"for bob"
    # An alias name (or bare key id) is looked up in Bob's own account, where it does not exist.
    message = fails_with("NotFoundException", bob.kms.encrypt, KeyId=alias, Plaintext=b"x")
    assert message == f"Alias arn:aws:kms:us-east-1:{BOB_ACCOUNT}:{alias} is not found."
    fails_with("NotFoundException", bob.kms.encrypt, KeyId=key["KeyId"], Plaintext=b"x")
    # Bob's identity policy still limits him: the key policy's DescribeKey is not in it.
    assert_names(denied(bob.kms.describe_key, KeyId=key["Arn"]), bob.arn, "kms:DescribeKey", key["Arn"])
    # Alice kept her own access.
    assert alice.kms.decrypt(CiphertextBlob=alice.kms.encrypt(KeyId=alias, Plaintext=b"a")["CiphertextBlob"])[
        "Plaintext"] == b"a"
    assert alice.kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"] == \
        policy_sharing_with(alice, BOB_ACCOUNT)


def test_bob_uses_the_shared_key_with_the_aws_cli_and_his_profile(trent, alice_and_bob, tmp_path):
    alice, bob = alice_and_bob
    key, alias, alias_arn = alices_key(alice)
    plaintext = tmp_path / "plaintext.txt"
    plaintext.write_bytes(b"through the aws cli")
    before = aws_cli(trent, bob, "encrypt", "--key-id", key["Arn"], "--plaintext", f"fileb://{plaintext}")
    assert before.returncode != 0 and "AccessDeniedException" in before.stderr, before.stderr
    assert bob.arn in before.stderr

    policy_file = tmp_path / "policy-with-bob.json"
    policy_file.write_text(policy_sharing_with(alice, BOB_ACCOUNT))
    alice_put = aws_cli(trent, alice, "put-key-policy", "--key-id", key["KeyId"], "--policy-name", "default",
                        "--policy", f"file://{policy_file}")
    assert alice_put.returncode == 0, alice_put.stderr

    encrypted = aws_cli(trent, bob, "encrypt", "--key-id", key["Arn"], "--plaintext", f"fileb://{plaintext}")
    assert encrypted.returncode == 0, encrypted.stderr
    assert json.loads(encrypted.stdout)["KeyId"] == key["Arn"]
    by_name = aws_cli(trent, bob, "encrypt", "--key-id", alias, "--plaintext", f"fileb://{plaintext}")
    assert by_name.returncode != 0 and "NotFoundException" in by_name.stderr, by_name.stderr


def test_bob_without_his_identity_policy_is_denied_although_the_key_policy_allows_his_account(trent, alice_and_bob):
    alice, _ = alice_and_bob
    bob = principal(trent, "bob", BOB_ACCOUNT)
    bob.put_policy("use-shared-key", USE_SHARED_KEY)
    key, _, alias_arn = alices_key(alice)
    alice.kms.put_key_policy(KeyId=key["Arn"], PolicyName="default", Policy=policy_sharing_with(alice, BOB_ACCOUNT))
    bob.kms.encrypt(KeyId=alias_arn, Plaintext=b"x")

    bob.delete_policy("use-shared-key")
    assert "use-shared-key" not in bob.list_policies()
    assert_names(denied(bob.kms.encrypt, KeyId=key["Arn"], Plaintext=b"x"), bob.arn, "kms:Encrypt", key["Arn"])
    denied(bob.kms.generate_data_key, KeyId=alias_arn, KeySpec="AES_256")


def test_a_deny_for_bob_in_alices_key_policy_wins(trent, alice_and_bob):
    alice, bob = alice_and_bob
    colleague = principal(trent, "bobs-colleague", BOB_ACCOUNT, USE_SHARED_KEY)
    key, _, alias_arn = alices_key(alice)
    alice.kms.put_key_policy(KeyId=key["Arn"], Policy=policy_sharing_with(
        alice, BOB_ACCOUNT, statement("Deny", bob.arn, "kms:*", sid="Not Bob")))
    assert_names(denied(bob.kms.encrypt, KeyId=key["Arn"], Plaintext=b"x"), bob.arn, "kms:Encrypt", key["Arn"])
    denied(bob.kms.generate_data_key, KeyId=alias_arn, KeySpec="AES_256")
    # The Deny names Bob only: the rest of his account may still use the key.
    colleague.kms.encrypt(KeyId=key["Arn"], Plaintext=b"x")


def test_an_explicit_deny_is_worded_as_aws_words_it(trent, alice_and_bob):
    alice, bob = alice_and_bob
    key, _, _ = alices_key(alice)
    alice.kms.put_key_policy(KeyId=key["Arn"], Policy=policy_sharing_with(
        alice, BOB_ACCOUNT, statement("Deny", bob.arn, "kms:*", sid="Not Bob")))
    message = denied(bob.kms.encrypt, KeyId=key["Arn"], Plaintext=b"x")
    assert message == (f"User: {bob.arn} is not authorized to perform: kms:Encrypt on resource: {key['Arn']} "
                       "with an explicit deny in a resource-based policy")


def test_bobs_list_keys_never_shows_alices_keys(trent, alice_and_bob):
    alice, bob = alice_and_bob
    bob_with_list = principal(trent, "bob-lister", BOB_ACCOUNT, KMS_ALL)
    own = bob_with_list.kms.create_key(Description="in account 222233334444")["KeyMetadata"]
    key, _, _ = alices_key(alice)
    alice.kms.put_key_policy(KeyId=key["Arn"], Policy=policy_of(
        statement("Allow", root(trent.account_id), "kms:*"), statement("Allow", root(BOB_ACCOUNT), "kms:*")))
    listed = bob_with_list.kms.list_keys(Limit=1000)
    assert not listed["Truncated"]
    ids = {entry["KeyId"] for entry in listed["Keys"]}
    assert own["KeyId"] in ids and key["KeyId"] not in ids
    assert all(f":{BOB_ACCOUNT}:key/" in entry["KeyArn"] for entry in listed["Keys"])
    aliases = bob_with_list.kms.list_aliases(Limit=100)["Aliases"]
    assert all(f":{BOB_ACCOUNT}:alias/" in entry["AliasArn"] for entry in aliases)
    # Bob's own identity policy does not even allow ListKeys.
    denied(bob.kms.list_keys)


def test_bob_cannot_put_alices_key_policy(trent, alice_and_bob):
    alice, bob = alice_and_bob
    key, _, _ = alices_key(alice)
    alice.kms.put_key_policy(KeyId=key["Arn"], Policy=policy_sharing_with(alice, BOB_ACCOUNT))
    message = denied(bob.kms.put_key_policy, KeyId=key["Arn"], PolicyName="default",
                     Policy=policy_of(statement("Allow", root(BOB_ACCOUNT), "kms:*")))
    assert_names(message, bob.arn, "kms:PutKeyPolicy", key["Arn"])
    assert alice.kms.get_key_policy(KeyId=key["Arn"])["Policy"] == policy_sharing_with(alice, BOB_ACCOUNT)


def test_administrative_actions_never_work_across_accounts(trent, alice_and_bob):
    alice, _ = alice_and_bob
    mallory = principal(trent, "mallory", BOB_ACCOUNT, KMS_ALL)
    key, _, _ = alices_key(alice)
    alice.kms.put_key_policy(KeyId=key["Arn"], Policy=policy_of(
        statement("Allow", root(trent.account_id), "kms:*"), statement("Allow", root(BOB_ACCOUNT), "kms:*")))
    mallory.kms.encrypt(KeyId=key["Arn"], Plaintext=b"x")  # a cross-account operation: allowed
    with pytest.raises(ClientError):
        mallory.kms.schedule_key_deletion(KeyId=key["Arn"], PendingWindowInDays=7)


# --- 2. Key policies ---------------------------------------------------------------------------

def default_policy(account):
    return ('{\n  "Version" : "2012-10-17",\n  "Id" : "key-default-1",\n  "Statement" : [ {\n'
            '    "Sid" : "Enable IAM User Permissions",\n    "Effect" : "Allow",\n    "Principal" : {\n'
            f'      "AWS" : "arn:aws:iam::{account}:root"\n    }},\n    "Action" : "kms:*",\n'
            '    "Resource" : "*"\n  } ]\n}')


def test_a_new_key_has_the_default_key_policy_named_default(trent, kms):
    key = kms.create_key()["KeyMetadata"]
    got = kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")
    assert got["Policy"] == default_policy(trent.account_id)
    assert got["PolicyName"] == "default"
    assert json.loads(got["Policy"])["Statement"][0]["Principal"] == {"AWS": root(trent.account_id)}
    # PolicyName may be left out (it can only be "default").
    assert kms.get_key_policy(KeyId=key["Arn"])["Policy"] == got["Policy"]
    listed = kms.list_key_policies(KeyId=key["KeyId"])
    assert listed["PolicyNames"] == ["default"] and listed["Truncated"] is False


def test_put_key_policy_round_trips_the_exact_text(trent, kms):
    key = kms.create_key()["KeyMetadata"]
    admin = f"arn:aws:iam::{trent.account_id}:user/admin"
    text = ('{"Version": "2012-10-17", "Id": "round-trip",\n "Statement": [\n'
            f'  {{"Sid": "Admin", "Effect": "Allow", "Principal": {{"AWS": "{admin}"}}, '
            '"Action": "kms:*", "Resource": "*"}]}')
    assert kms.put_key_policy(KeyId=key["KeyId"], PolicyName="default", Policy=text)["ResponseMetadata"][
        "HTTPStatusCode"] == 200
    assert kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"] == text
    assert kms.list_key_policies(KeyId=key["KeyId"])["PolicyNames"] == ["default"]


MALFORMED_POLICIES = [
    ("not-json", "{\"Version\": \"2012-10-17\", \"Statement\": ["),
    ("not-an-object", "[]"),
    ("bad-effect", policy_of({"Effect": "Perhaps", "Principal": {"AWS": "*"}, "Action": "kms:*", "Resource": "*"})),
    ("no-principal", policy_of({"Effect": "Allow", "Action": "kms:*", "Resource": "*"})),
    ("action-not-a-string", policy_of({"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": 7, "Resource": "*"})),
    ("unknown-condition-operator", policy_of(statement("Allow", "*", "kms:*",
                                                       {"StringLooksLike": {"kms:CallerAccount": "1"}}))),
]


@pytest.mark.parametrize("policy", [p for _, p in MALFORMED_POLICIES], ids=[i for i, _ in MALFORMED_POLICIES])
def test_a_malformed_key_policy_is_refused(kms, policy):
    key = kms.create_key()["KeyMetadata"]
    fails_with("MalformedPolicyDocumentException", kms.put_key_policy, KeyId=key["KeyId"], PolicyName="default",
               Policy=policy)
    fails_with("MalformedPolicyDocumentException", kms.create_key, Policy=policy)
    assert kms.get_key_policy(KeyId=key["KeyId"])["Policy"] == default_policy(key["AWSAccountId"])


def lockout_policy(account):
    """Lets the account (and so the admin, through delegation) use the key, but not change its policy."""
    return policy_of(statement("Allow", root(account), ["kms:Encrypt", "kms:Decrypt", "kms:GetKeyPolicy",
                                                        "kms:DescribeKey"]))


def test_the_lockout_safety_check_on_put_key_policy(trent, kms):
    key = kms.create_key()["KeyMetadata"]
    locking = lockout_policy(trent.account_id)
    message = fails_with("MalformedPolicyDocumentException", kms.put_key_policy, KeyId=key["KeyId"],
                         PolicyName="default", Policy=locking)
    assert message == "The new key policy will not allow you to update the key policy in the future."
    fails_with("MalformedPolicyDocumentException", kms.put_key_policy, KeyId=key["KeyId"], Policy=locking,
               BypassPolicyLockoutSafetyCheck=False)
    assert kms.get_key_policy(KeyId=key["KeyId"])["Policy"] == default_policy(trent.account_id)

    kms.put_key_policy(KeyId=key["KeyId"], PolicyName="default", Policy=locking, BypassPolicyLockoutSafetyCheck=True)
    assert kms.get_key_policy(KeyId=key["KeyId"])["Policy"] == locking
    kms.encrypt(KeyId=key["KeyId"], Plaintext=b"still usable")
    message = denied(kms.put_key_policy, KeyId=key["KeyId"], Policy=default_policy(trent.account_id),
                     BypassPolicyLockoutSafetyCheck=True)
    assert_names(message, f"arn:aws:iam::{trent.account_id}:user/admin", "kms:PutKeyPolicy", key["Arn"])


def test_a_policy_naming_the_caller_directly_passes_the_lockout_check(trent):
    # A key policy naming the caller itself keeps it able to PutKeyPolicy even with no identity policy;
    # one that only names its account (delegating to identity policies it no longer has) locks it out.
    owner = principal(trent, "owner", policy=KMS_ALL)
    key = owner.kms.create_key()["KeyMetadata"]
    owner.kms.put_key_policy(KeyId=key["KeyId"], Policy=policy_of(statement("Allow", owner.arn, "kms:*")))
    owner.delete_policy("policy")
    owner.kms.put_key_policy(KeyId=key["KeyId"], Policy=policy_of(statement("Allow", owner.arn, "kms:*"),
                                                                  statement("Allow", root(BOB_ACCOUNT), "kms:Encrypt")))
    fails_with("MalformedPolicyDocumentException", owner.kms.put_key_policy, KeyId=key["KeyId"],
               Policy=policy_of(statement("Allow", root(owner.account), "kms:*")))


def test_the_lockout_safety_check_on_create_key(trent, kms):
    locking = lockout_policy(trent.account_id)
    message = fails_with("MalformedPolicyDocumentException", kms.create_key, Policy=locking)
    assert message == "The new key policy will not allow you to update the key policy in the future."
    key = kms.create_key(Policy=locking, BypassPolicyLockoutSafetyCheck=True)["KeyMetadata"]
    assert kms.get_key_policy(KeyId=key["KeyId"])["Policy"] == locking
    denied(kms.put_key_policy, KeyId=key["KeyId"], Policy=default_policy(trent.account_id))


# --- 3. Grants ---------------------------------------------------------------------------------

CONTEXT = {"purpose": "grant-test"}


def test_a_grant_allows_its_operations_under_its_constraints_until_retired_or_revoked(trent, kms):
    carol = principal(trent, "carol")  # no identity policy
    rita = principal(trent, "rita")  # the retiring principal, no identity policy either
    key = kms.create_key(Description="granted to carol")["KeyMetadata"]
    assert_names(denied(carol.kms.encrypt, KeyId=key["Arn"], Plaintext=b"x", EncryptionContext=CONTEXT),
                 carol.arn, "kms:Encrypt", key["Arn"])

    grant_name = f"carol-{suffix()}"
    grant = kms.create_grant(KeyId=key["KeyId"], GranteePrincipal=carol.arn, RetiringPrincipal=rita.arn,
                             Operations=["Encrypt", "Decrypt"], Name=grant_name,
                             Constraints={"EncryptionContextSubset": CONTEXT})
    assert re.fullmatch(r"[0-9a-f]{64}", grant["GrantId"]) and grant["GrantToken"]

    # Usable at once, with the grant token or without it.
    blob = carol.kms.encrypt(KeyId=key["Arn"], Plaintext=b"carol's", EncryptionContext=CONTEXT)["CiphertextBlob"]
    carol.kms.encrypt(KeyId=key["Arn"], Plaintext=b"x", EncryptionContext=CONTEXT, GrantTokens=[grant["GrantToken"]])
    # A subset constraint: more pairs are fine, and constraint keys match case-insensitively.
    carol.kms.encrypt(KeyId=key["Arn"], Plaintext=b"x", EncryptionContext={**CONTEXT, "extra": "1"})
    carol.kms.encrypt(KeyId=key["Arn"], Plaintext=b"x", EncryptionContext={"PURPOSE": "grant-test"})
    assert carol.kms.decrypt(CiphertextBlob=blob, EncryptionContext=CONTEXT)["Plaintext"] == b"carol's"
    # Without the context, with another value, or for an operation the grant lacks: denied.
    denied(carol.kms.encrypt, KeyId=key["Arn"], Plaintext=b"x")
    denied(carol.kms.encrypt, KeyId=key["Arn"], Plaintext=b"x", EncryptionContext={"purpose": "GRANT-TEST"})
    assert_names(denied(carol.kms.generate_data_key, KeyId=key["Arn"], KeySpec="AES_256", EncryptionContext=CONTEXT),
                 carol.arn, "kms:GenerateDataKey", key["Arn"])
    denied(carol.kms.describe_key, KeyId=key["Arn"])

    listed = kms.list_grants(KeyId=key["KeyId"])["Grants"]
    assert [entry["GrantId"] for entry in listed] == [grant["GrantId"]]
    entry = listed[0]
    assert set(entry) == {"KeyId", "GrantId", "Name", "CreationDate", "GranteePrincipal", "RetiringPrincipal",
                          "IssuingAccount", "Operations", "Constraints"}
    assert entry["KeyId"] == key["Arn"]
    assert entry["Name"] == grant_name
    assert entry["GranteePrincipal"] == carol.arn
    assert entry["RetiringPrincipal"] == rita.arn
    assert entry["IssuingAccount"] == root(trent.account_id)
    assert sorted(entry["Operations"]) == ["Decrypt", "Encrypt"]
    assert entry["Constraints"] == {"EncryptionContextSubset": CONTEXT}
    assert entry["CreationDate"].year >= 2024

    # Carol is neither the retiring principal nor allowed RetireGrant: she cannot retire it.
    denied(carol.kms.retire_grant, GrantToken=grant["GrantToken"])
    rita.kms.retire_grant(GrantToken=grant["GrantToken"])
    denied(carol.kms.encrypt, KeyId=key["Arn"], Plaintext=b"x", EncryptionContext=CONTEXT)
    assert kms.list_grants(KeyId=key["KeyId"])["Grants"] == []

    second = kms.create_grant(KeyId=key["Arn"], GranteePrincipal=carol.arn, Operations=["Encrypt"])
    carol.kms.encrypt(KeyId=key["Arn"], Plaintext=b"x")  # no constraints this time
    kms.revoke_grant(KeyId=key["KeyId"], GrantId=second["GrantId"])
    denied(carol.kms.encrypt, KeyId=key["Arn"], Plaintext=b"x")
    assert kms.list_grants(KeyId=key["KeyId"])["Grants"] == []


def test_a_malformed_grant_token_is_an_invalid_grant_token_error(trent, kms):
    carol = principal(trent, "carol")
    key = kms.create_key()["KeyMetadata"]
    kms.create_grant(KeyId=key["KeyId"], GranteePrincipal=carol.arn, Operations=["Encrypt"])
    carol.kms.encrypt(KeyId=key["Arn"], Plaintext=b"x")
    fails_with("InvalidGrantTokenException", carol.kms.encrypt, KeyId=key["Arn"], Plaintext=b"x",
               GrantTokens=["not-a-grant-token"])


def test_a_grant_to_another_account_lets_its_principals_use_the_key(trent, kms):
    dora = principal(trent, "dora", OTHER_ACCOUNT, USE_SHARED_KEY)
    key = kms.create_key()["KeyMetadata"]
    denied(dora.kms.encrypt, KeyId=key["Arn"], Plaintext=b"x")
    grant = kms.create_grant(KeyId=key["Arn"], GranteePrincipal=dora.arn, Operations=["Encrypt", "Decrypt"])
    blob = dora.kms.encrypt(KeyId=key["Arn"], Plaintext=b"d", GrantTokens=[grant["GrantToken"]])["CiphertextBlob"]
    assert dora.kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"d"
    kms.revoke_grant(KeyId=key["Arn"], GrantId=grant["GrantId"])
    denied(dora.kms.encrypt, KeyId=key["Arn"], Plaintext=b"x")


# --- 4. DryRun ---------------------------------------------------------------------------------

def test_dry_run_checks_permissions(trent, kms, alice_and_bob):
    alice, bob = alice_and_bob
    carol = principal(trent, "carol")
    key = kms.create_key()["KeyMetadata"]
    # A denied caller learns that it is denied; an allowed one that it would have succeeded.
    assert_names(denied(carol.kms.encrypt, KeyId=key["Arn"], Plaintext=b"x", DryRun=True),
                 carol.arn, "kms:Encrypt", key["Arn"])
    fails_with("DryRunOperationException", kms.encrypt, KeyId=key["Arn"], Plaintext=b"x", DryRun=True)
    denied(carol.kms.generate_data_key, KeyId=key["Arn"], KeySpec="AES_256", DryRun=True)
    fails_with("DryRunOperationException", kms.generate_data_key, KeyId=key["Arn"], KeySpec="AES_256", DryRun=True)
    denied(carol.kms.create_grant, KeyId=key["Arn"], GranteePrincipal=carol.arn, Operations=["Encrypt"], DryRun=True)
    fails_with("DryRunOperationException", kms.create_grant, KeyId=key["Arn"], GranteePrincipal=carol.arn,
               Operations=["Encrypt"], DryRun=True)
    assert kms.list_grants(KeyId=key["Arn"])["Grants"] == []  # the dry run created nothing

    # A grant makes carol's dry run succeed.
    kms.create_grant(KeyId=key["Arn"], GranteePrincipal=carol.arn, Operations=["Encrypt"])
    fails_with("DryRunOperationException", carol.kms.encrypt, KeyId=key["Arn"], Plaintext=b"x", DryRun=True)

    # Across accounts, too.
    shared, _, _ = alices_key(alice)
    denied(bob.kms.encrypt, KeyId=shared["Arn"], Plaintext=b"x", DryRun=True)
    alice.kms.put_key_policy(KeyId=shared["Arn"], Policy=policy_sharing_with(alice, BOB_ACCOUNT))
    fails_with("DryRunOperationException", bob.kms.encrypt, KeyId=shared["Arn"], Plaintext=b"x", DryRun=True)


# --- 5. Condition keys -------------------------------------------------------------------------

def allow(actions, condition=None):
    result = {"Effect": "Allow", "Action": actions, "Resource": "*"}
    if condition is not None:
        result["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [result]}


def test_encryption_context_condition_in_an_identity_policy(trent, kms):
    erin = principal(trent, "erin", policy=allow(
        ["kms:Encrypt", "kms:Decrypt"], {"StringEquals": {"kms:EncryptionContext:purpose": "test"}}))
    key = kms.create_key()["KeyMetadata"]  # the default key policy delegates to identity policies
    blob = erin.kms.encrypt(KeyId=key["Arn"], Plaintext=b"e", EncryptionContext={"purpose": "test"})["CiphertextBlob"]
    erin.kms.encrypt(KeyId=key["Arn"], Plaintext=b"e", EncryptionContext={"purpose": "test", "other": "x"})
    assert erin.kms.decrypt(CiphertextBlob=blob, EncryptionContext={"purpose": "test"})["Plaintext"] == b"e"
    assert_names(denied(erin.kms.encrypt, KeyId=key["Arn"], Plaintext=b"e"), erin.arn, "kms:Encrypt", key["Arn"])
    denied(erin.kms.encrypt, KeyId=key["Arn"], Plaintext=b"e", EncryptionContext={"purpose": "prod"})
    denied(erin.kms.encrypt, KeyId=key["Arn"], Plaintext=b"e", EncryptionContext={"purpose": "TEST"})


def test_caller_account_condition_in_a_key_policy(trent, kms):
    admin = f"arn:aws:iam::{trent.account_id}:user/admin"
    home = principal(trent, "frank")  # Trent's account, no identity policy
    away = principal(trent, "grace", OTHER_ACCOUNT, KMS_ALL)

    def key_for(account):
        return kms.create_key(Policy=policy_of(
            statement("Allow", admin, "kms:*", sid="Key administrator"),
            statement("Allow", "*", ["kms:Encrypt"], {"StringEquals": {"kms:CallerAccount": account}},
                      sid="Callers of one account")))["KeyMetadata"]

    same = key_for(trent.account_id)
    home.kms.encrypt(KeyId=same["Arn"], Plaintext=b"x")  # named directly (Principal *): no IAM policy needed
    assert_names(denied(away.kms.encrypt, KeyId=same["Arn"], Plaintext=b"x"), away.arn, "kms:Encrypt", same["Arn"])

    other = key_for(OTHER_ACCOUNT)
    away.kms.encrypt(KeyId=other["Arn"], Plaintext=b"x")
    denied(home.kms.encrypt, KeyId=other["Arn"], Plaintext=b"x")


def test_source_ip_condition(trent, kms):
    key = kms.create_key()["KeyMetadata"]
    local = principal(trent, "local", policy=allow("kms:Encrypt", {"IpAddress": {"aws:SourceIp": "127.0.0.1/32"}}))
    remote = principal(trent, "remote", policy=allow("kms:Encrypt", {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}))
    local.kms.encrypt(KeyId=key["Arn"], Plaintext=b"x")
    denied(remote.kms.encrypt, KeyId=key["Arn"], Plaintext=b"x")
    # The same ranges in a key-policy Deny.
    fenced = kms.create_key(Policy=policy_of(
        statement("Allow", root(trent.account_id), "kms:*"),
        statement("Deny", "*", "kms:Encrypt", {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}})))["KeyMetadata"]
    denied(kms.encrypt, KeyId=fenced["Arn"], Plaintext=b"x")
    kms.decrypt(CiphertextBlob=kms.encrypt(KeyId=key["Arn"], Plaintext=b"x")["CiphertextBlob"])


def test_data_key_pair_spec_condition(trent, kms):
    key = kms.create_key()["KeyMetadata"]
    user = principal(trent, "pairs", policy=allow(
        "kms:GenerateDataKeyPair", {"StringEquals": {"kms:DataKeyPairSpec": "ECC_NIST_P256"}}))
    pair = user.kms.generate_data_key_pair(KeyId=key["Arn"], KeyPairSpec="ECC_NIST_P256")
    assert pair["KeyPairSpec"] == "ECC_NIST_P256" and pair["KeyId"] == key["Arn"]
    for spec in ("ECC_NIST_P384", "RSA_2048"):
        assert_names(denied(user.kms.generate_data_key_pair, KeyId=key["Arn"], KeyPairSpec=spec),
                     user.arn, "kms:GenerateDataKeyPair", key["Arn"])
    denied(user.kms.generate_data_key_pair_without_plaintext, KeyId=key["Arn"], KeyPairSpec="ECC_NIST_P256")


def test_grants_cover_signing_mac_and_key_agreement_keys_and_only_their_operations(trent, kms):
    """A grant on a key pair or HMAC key allows the operations of its key usage; others are refused."""
    dave = principal(trent, "dave")
    signing = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    hmac_key = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]
    message = b"granted"
    denied(dave.kms.sign, KeyId=signing["Arn"], Message=message, SigningAlgorithm="ECDSA_SHA_256")

    token = kms.create_grant(KeyId=signing["KeyId"], GranteePrincipal=dave.arn,
                             Operations=["Sign", "Verify", "GetPublicKey"])["GrantToken"]
    signature = dave.kms.sign(KeyId=signing["Arn"], Message=message, SigningAlgorithm="ECDSA_SHA_256",
                              GrantTokens=[token])["Signature"]
    assert dave.kms.verify(KeyId=signing["Arn"], Message=message, Signature=signature,
                           SigningAlgorithm="ECDSA_SHA_256")["SignatureValid"] is True
    assert dave.kms.get_public_key(KeyId=signing["Arn"])["KeySpec"] == "ECC_NIST_P256"

    denied(dave.kms.generate_mac, KeyId=hmac_key["Arn"], Message=message, MacAlgorithm="HMAC_SHA_256")
    kms.create_grant(KeyId=hmac_key["KeyId"], GranteePrincipal=dave.arn, Operations=["GenerateMac"])
    mac = dave.kms.generate_mac(KeyId=hmac_key["Arn"], Message=message, MacAlgorithm="HMAC_SHA_256")["Mac"]
    assert kms.verify_mac(KeyId=hmac_key["KeyId"], Message=message, Mac=mac,
                          MacAlgorithm="HMAC_SHA_256")["MacValid"] is True
    denied(dave.kms.verify_mac, KeyId=hmac_key["Arn"], Message=message, Mac=mac, MacAlgorithm="HMAC_SHA_256")

    # Operations a key's usage does not have cannot be granted on it.
    fails_with("ValidationException", kms.create_grant, KeyId=hmac_key["KeyId"], GranteePrincipal=dave.arn,
               Operations=["Sign"])
