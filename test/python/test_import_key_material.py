"""Imported key material (Origin EXTERNAL) as AWS documents it: the AWS CLI and OpenSSL flow of
"Importing key material", and boto3 with python `cryptography` for the other wrapping algorithms
and key specs. What Trent computes with imported material is checked against the same
computation done here with the same bytes (run on SQLite and on PostgreSQL by scripts/test.sh)."""
import base64
import datetime
import hashlib
import hmac
import json
import os
import struct
import subprocess
import time

import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.keywrap import aes_key_wrap_with_padding

from harness import error_of, run_trent_cli

OAEP_HASH = {"RSAES_OAEP_SHA_1": hashes.SHA1, "RSAES_OAEP_SHA_256": hashes.SHA256,
             "RSA_AES_KEY_WRAP_SHA_1": hashes.SHA1, "RSA_AES_KEY_WRAP_SHA_256": hashes.SHA256}


def oaep(algorithm):
    h = OAEP_HASH[algorithm]
    return padding.OAEP(mgf=padding.MGF1(algorithm=h()), algorithm=h(), label=None)


def wrap(params, algorithm, material):
    """Step 3 of AWS's import: encrypt the material under the wrapping public key."""
    public = serialization.load_der_public_key(params["PublicKey"])
    if algorithm.startswith("RSAES_OAEP"):
        return public.encrypt(material, oaep(algorithm))
    aes_key = os.urandom(32)
    return public.encrypt(aes_key, oaep(algorithm)) + aes_key_wrap_with_padding(aes_key, material)


def import_material(kms, key_id, material, algorithm="RSAES_OAEP_SHA_256", spec="RSA_2048", **extra):
    params = kms.get_parameters_for_import(KeyId=key_id, WrappingAlgorithm=algorithm, WrappingKeySpec=spec)
    extra.setdefault("ExpirationModel", "KEY_MATERIAL_DOES_NOT_EXPIRE")
    return kms.import_key_material(KeyId=key_id, ImportToken=params["ImportToken"],
                                   EncryptedKeyMaterial=wrap(params, algorithm, material), **extra)


def external_key(kms, **kwargs):
    return kms.create_key(Origin="EXTERNAL", **kwargs)["KeyMetadata"]


def decrypt_locally(material, blob, context=None):
    """docs/ciphertext-format.md, done here: proves the imported bytes are the key."""
    assert blob[0] == 1 and blob[1] == 1
    length = blob[2]
    header = blob[:51 + length]
    salt, iv = blob[7 + length:39 + length], blob[39 + length:51 + length]
    content_key = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=blob[:7 + length]).derive(material)
    encoded = struct.pack(">I", len(context or {}))
    for k in sorted(context or {}, key=lambda k: k.encode()):
        encoded += struct.pack(">I", len(k.encode())) + k.encode()
        encoded += struct.pack(">I", len(context[k].encode())) + context[k].encode()
    return AESGCM(content_key).decrypt(iv, blob[51 + length:], header + encoded)


def pkcs8(private_key):
    return private_key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption())


def test_cli_import_with_openssl_rsaes_oaep_sha_256_then_delete_and_reimport(aws, kms, tmp_path):
    key = aws("create-key", "--origin", "EXTERNAL", "--description", "BYOK")["KeyMetadata"]
    assert (key["Origin"], key["KeyState"], key["Enabled"]) == ("EXTERNAL", "PendingImport", False)
    with pytest.raises(ClientError) as excinfo:
        kms.encrypt(KeyId=key["KeyId"], Plaintext=b"hi")
    assert error_of(excinfo)[0] == "KMSInvalidStateException" and "pending import" in error_of(excinfo)[1]

    def openssl(*args):
        subprocess.run(["openssl", *args], check=True, cwd=tmp_path, capture_output=True)

    openssl("rand", "-out", "PlaintextKeyMaterial.bin", "32")
    material = (tmp_path / "PlaintextKeyMaterial.bin").read_bytes()
    params = aws("get-parameters-for-import", "--key-id", key["KeyId"], "--wrapping-algorithm",
                 "RSAES_OAEP_SHA_256", "--wrapping-key-spec", "RSA_2048")
    assert params["KeyId"] == key["Arn"]
    valid_to = datetime.datetime.fromtimestamp(float(params["ParametersValidTo"]), datetime.timezone.utc)
    assert abs(valid_to - datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=24)) < \
        datetime.timedelta(minutes=5)
    (tmp_path / "PublicKey.b64").write_text(params["PublicKey"])
    (tmp_path / "ImportToken.b64").write_text(params["ImportToken"])
    openssl("enc", "-d", "-base64", "-A", "-in", "PublicKey.b64", "-out", "PublicKey.bin")
    openssl("enc", "-d", "-base64", "-A", "-in", "ImportToken.b64", "-out", "ImportToken.bin")
    openssl("pkeyutl", "-encrypt", "-in", "PlaintextKeyMaterial.bin", "-out", "EncryptedKeyMaterial.bin",
            "-inkey", "PublicKey.bin", "-keyform", "DER", "-pubin", "-pkeyopt", "rsa_padding_mode:oaep",
            "-pkeyopt", "rsa_oaep_md:sha256", "-pkeyopt", "rsa_mgf1_md:sha256")
    imported = aws("import-key-material", "--key-id", key["KeyId"],
                   "--encrypted-key-material", f"fileb://{tmp_path / 'EncryptedKeyMaterial.bin'}",
                   "--import-token", f"fileb://{tmp_path / 'ImportToken.bin'}",
                   "--expiration-model", "KEY_MATERIAL_DOES_NOT_EXPIRE")
    described = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
    assert (described["KeyState"], described["ExpirationModel"]) == ("Enabled", "KEY_MATERIAL_DOES_NOT_EXPIRE")
    assert "ValidTo" not in described
    assert imported == {"KeyId": key["Arn"], "KeyMaterialId": described["CurrentKeyMaterialId"]}

    # The CLI v1 sends a --plaintext string as its raw bytes.
    blob = base64.b64decode(aws("encrypt", "--key-id", key["KeyId"], "--plaintext", "secret",
                                "--encryption-context", "purpose=byok")["CiphertextBlob"])
    assert decrypt_locally(material, blob, {"purpose": "byok"}) == b"secret"
    (tmp_path / "blob.bin").write_bytes(blob)

    deleted = aws("delete-imported-key-material", "--key-id", key["KeyId"])
    assert deleted == {"KeyId": key["Arn"], "KeyMaterialId": imported["KeyMaterialId"]}
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "PendingImport"
    with pytest.raises(ClientError) as excinfo:
        kms.decrypt(CiphertextBlob=blob, EncryptionContext={"purpose": "byok"})
    assert error_of(excinfo)[0] == "KMSInvalidStateException"

    # The same material again, under a new wrapping key and token, brings the key back.
    assert import_material(kms, key["KeyId"], material)["KeyMaterialId"] == imported["KeyMaterialId"]
    assert kms.decrypt(CiphertextBlob=blob, EncryptionContext={"purpose": "byok"})["Plaintext"] == b"secret"


def test_cli_import_with_openssl_rsa_aes_key_wrap_sha_256_and_rsa_4096(aws, tmp_path):
    key = aws("create-key", "--origin", "EXTERNAL")["KeyMetadata"]
    params = aws("get-parameters-for-import", "--key-id", key["KeyId"], "--wrapping-algorithm",
                 "RSA_AES_KEY_WRAP_SHA_256", "--wrapping-key-spec", "RSA_4096")
    (tmp_path / "WrappingPublicKey.bin").write_bytes(base64.b64decode(params["PublicKey"]))
    (tmp_path / "ImportToken.bin").write_bytes(base64.b64decode(params["ImportToken"]))
    assert serialization.load_der_public_key(base64.b64decode(params["PublicKey"])).key_size == 4096
    material = os.urandom(32)
    (tmp_path / "PlaintextKeyMaterial.bin").write_bytes(material)

    def openssl(*args):
        subprocess.run(["openssl", *args], check=True, cwd=tmp_path, capture_output=True)

    openssl("rand", "-out", "aes-key.bin", "32")
    aes_hex = (tmp_path / "aes-key.bin").read_bytes().hex()
    openssl("enc", "-id-aes256-wrap-pad", "-K", aes_hex, "-iv", "A65959A6", "-in", "PlaintextKeyMaterial.bin",
            "-out", "key-material-wrapped.bin")
    openssl("pkeyutl", "-encrypt", "-in", "aes-key.bin", "-out", "aes-key-wrapped.bin", "-inkey",
            "WrappingPublicKey.bin", "-keyform", "DER", "-pubin", "-pkeyopt", "rsa_padding_mode:oaep",
            "-pkeyopt", "rsa_oaep_md:sha256", "-pkeyopt", "rsa_mgf1_md:sha256")
    (tmp_path / "EncryptedKeyMaterial.bin").write_bytes(
        (tmp_path / "aes-key-wrapped.bin").read_bytes() + (tmp_path / "key-material-wrapped.bin").read_bytes())
    aws("import-key-material", "--key-id", key["KeyId"],
        "--encrypted-key-material", f"fileb://{tmp_path / 'EncryptedKeyMaterial.bin'}",
        "--import-token", f"fileb://{tmp_path / 'ImportToken.bin'}", "--expiration-model",
        "KEY_MATERIAL_DOES_NOT_EXPIRE")
    blob = base64.b64decode(aws("encrypt", "--key-id", key["KeyId"], "--plaintext", "wrapped twice")["CiphertextBlob"])
    assert decrypt_locally(material, blob) == b"wrapped twice"


def test_hmac_key_macs_equal_local_hmac(kms):
    key = external_key(kms, KeySpec="HMAC_384", KeyUsage="GENERATE_VERIFY_MAC")
    material = os.urandom(56)  # HMAC_384 takes 48 to 64 bytes
    import_material(kms, key["KeyId"], material, "RSAES_OAEP_SHA_1", "RSA_3072")
    mac = kms.generate_mac(KeyId=key["KeyId"], Message=b"message", MacAlgorithm="HMAC_SHA_384")["Mac"]
    assert mac == hmac.new(material, b"message", hashlib.sha384).digest()
    local = hmac.new(material, b"other", hashlib.sha384).digest()
    assert kms.verify_mac(KeyId=key["KeyId"], Message=b"other", MacAlgorithm="HMAC_SHA_384", Mac=local)["MacValid"]

    short = external_key(kms, KeySpec="HMAC_384", KeyUsage="GENERATE_VERIFY_MAC")
    with pytest.raises(ClientError) as excinfo:
        import_material(kms, short["KeyId"], os.urandom(32))
    assert error_of(excinfo)[0] == "IncorrectKeyMaterialException"


@pytest.mark.parametrize("spec,private_key,algorithm,wrapping,signing", [
    ("RSA_2048", lambda: rsa.generate_private_key(65537, 2048), "RSA_AES_KEY_WRAP_SHA_1", "RSA_3072",
     "RSASSA_PSS_SHA_256"),
    ("ECC_NIST_P256", lambda: ec.generate_private_key(ec.SECP256R1()), "RSAES_OAEP_SHA_256", "RSA_2048",
     "ECDSA_SHA_256"),
    ("ECC_NIST_P521", lambda: ec.generate_private_key(ec.SECP521R1()), "RSA_AES_KEY_WRAP_SHA_256", "RSA_2048",
     "ECDSA_SHA_512"),
])
def test_signing_keys_sign_with_the_imported_private_key(kms, spec, private_key, algorithm, wrapping, signing):
    private = private_key()
    key = external_key(kms, KeySpec=spec, KeyUsage="SIGN_VERIFY")
    import_material(kms, key["KeyId"], pkcs8(private), algorithm, wrapping)
    public_der = private.public_key().public_bytes(serialization.Encoding.DER,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo)
    assert kms.get_public_key(KeyId=key["KeyId"])["PublicKey"] == public_der

    signature = kms.sign(KeyId=key["KeyId"], Message=b"signed by Trent", SigningAlgorithm=signing)["Signature"]
    if spec.startswith("RSA"):
        scheme = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
        private.public_key().verify(signature, b"signed by Trent", scheme, hashes.SHA256())
        local = private.sign(b"signed here", scheme, hashes.SHA256())
    else:
        h = hashes.SHA512() if spec == "ECC_NIST_P521" else hashes.SHA256()
        private.public_key().verify(signature, b"signed by Trent", ec.ECDSA(h))
        local = private.sign(b"signed here", ec.ECDSA(h))
    assert kms.verify(KeyId=key["KeyId"], Message=b"signed here", Signature=local,
                      SigningAlgorithm=signing)["SignatureValid"]

    # Only this key pair, ever: another private key of the same spec is refused.
    with pytest.raises(ClientError) as excinfo:
        import_material(kms, key["KeyId"], pkcs8(private_key()), algorithm, wrapping)
    assert error_of(excinfo)[0] == "IncorrectKeyMaterialException"


def test_wrapping_rules_and_key_origin(kms):
    rsa_key = external_key(kms, KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")["KeyId"]
    p521 = external_key(kms, KeySpec="ECC_NIST_P521", KeyUsage="SIGN_VERIFY")["KeyId"]
    symmetric = external_key(kms)["KeyId"]
    for key_id, algorithm, spec in [
        (rsa_key, "RSAES_OAEP_SHA_256", "RSA_4096"),  # an RSA private key needs RSA_AES
        (p521, "RSAES_OAEP_SHA_1", "RSA_2048"),  # too long for OAEP under RSA_2048
        (symmetric, "RSAES_PKCS1_V1_5", "RSA_2048"),  # no longer offered
        (symmetric, "SM2PKE", "RSA_2048"),
        (symmetric, "RSAES_OAEP_SHA_256", "SM2"),
    ]:
        with pytest.raises(ClientError) as excinfo:
            kms.get_parameters_for_import(KeyId=key_id, WrappingAlgorithm=algorithm, WrappingKeySpec=spec)
        assert error_of(excinfo)[0] == "ValidationException", (algorithm, spec)
    kms.get_parameters_for_import(KeyId=p521, WrappingAlgorithm="RSAES_OAEP_SHA_1", WrappingKeySpec="RSA_3072")

    generated = kms.create_key()["KeyMetadata"]["KeyId"]
    for call in [lambda: kms.get_parameters_for_import(KeyId=generated, WrappingAlgorithm="RSAES_OAEP_SHA_256",
                                                       WrappingKeySpec="RSA_2048"),
                 lambda: kms.delete_imported_key_material(KeyId=generated)]:
        with pytest.raises(ClientError) as excinfo:
            call()
        assert error_of(excinfo)[0] == "UnsupportedOperationException"


def test_import_tokens_are_bound_to_their_key_and_authenticated(kms):
    key, other = external_key(kms)["KeyId"], external_key(kms)["KeyId"]
    material = os.urandom(32)
    params = kms.get_parameters_for_import(KeyId=key, WrappingAlgorithm="RSAES_OAEP_SHA_256",
                                           WrappingKeySpec="RSA_2048")
    encrypted = wrap(params, "RSAES_OAEP_SHA_256", material)
    token = params["ImportToken"]
    tampered = bytearray(token)
    tampered[20] ^= 1  # inside ValidTo
    cases = [
        (other, token, encrypted, "InvalidImportTokenException"),
        (key, bytes(tampered), encrypted, "InvalidImportTokenException"),
        (key, token[:-1], encrypted, "InvalidImportTokenException"),
        (key, b"not a token", encrypted, "InvalidImportTokenException"),
        (key, token, os.urandom(len(encrypted)), "InvalidCiphertextException"),
        (key, token, wrap(params, "RSAES_OAEP_SHA_256", os.urandom(31)), "IncorrectKeyMaterialException"),
    ]
    for key_id, import_token, blob, code in cases:
        with pytest.raises(ClientError) as excinfo:
            kms.import_key_material(KeyId=key_id, ImportToken=import_token, EncryptedKeyMaterial=blob,
                                    ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE")
        assert error_of(excinfo)[0] == code
    assert kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "PendingImport"
    # The token is still good for its own key.
    kms.import_key_material(KeyId=key, ImportToken=token, EncryptedKeyMaterial=encrypted,
                            ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE")
    # Different material for the same key is refused, however it is wrapped.
    with pytest.raises(ClientError) as excinfo:
        import_material(kms, key, os.urandom(32), "RSA_AES_KEY_WRAP_SHA_256", "RSA_3072")
    assert error_of(excinfo)[0] == "IncorrectKeyMaterialException"


def test_expiration_validation(kms):
    key = external_key(kms)["KeyId"]
    now = datetime.datetime.now(datetime.timezone.utc)
    for extra in [{"ExpirationModel": "KEY_MATERIAL_EXPIRES"}, {"ExpirationModel": None},
                  {"ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE", "ValidTo": now + datetime.timedelta(days=1)},
                  {"ValidTo": now - datetime.timedelta(minutes=1)},
                  {"ValidTo": now + datetime.timedelta(days=366)}]:
        arguments = {k: v for k, v in extra.items() if v is not None}
        if extra.get("ExpirationModel", "") is None:
            arguments = {}
        params = kms.get_parameters_for_import(KeyId=key, WrappingAlgorithm="RSAES_OAEP_SHA_256",
                                               WrappingKeySpec="RSA_2048")
        with pytest.raises(ClientError) as excinfo:
            kms.import_key_material(KeyId=key, ImportToken=params["ImportToken"],
                                    EncryptedKeyMaterial=wrap(params, "RSAES_OAEP_SHA_256", os.urandom(32)),
                                    **arguments)
        assert error_of(excinfo)[0] == "ValidationException", extra


def test_material_expires_at_valid_to_and_the_same_material_brings_the_key_back(kms):
    key = external_key(kms)["KeyId"]
    material = os.urandom(32)
    valid_to = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=3)
    import_material(kms, key, material, ExpirationModel="KEY_MATERIAL_EXPIRES", ValidTo=valid_to)
    described = kms.describe_key(KeyId=key)["KeyMetadata"]
    assert described["ExpirationModel"] == "KEY_MATERIAL_EXPIRES"
    assert abs(described["ValidTo"] - valid_to) < datetime.timedelta(seconds=1)
    blob = kms.encrypt(KeyId=key, Plaintext=b"short-lived")["CiphertextBlob"]
    time.sleep(max(0.0, (valid_to - datetime.datetime.now(datetime.timezone.utc)).total_seconds()) + 0.5)
    assert kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "PendingImport"
    with pytest.raises(ClientError) as excinfo:
        kms.decrypt(CiphertextBlob=blob)
    assert error_of(excinfo)[0] == "KMSInvalidStateException"
    import_material(kms, key, material)
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"short-lived"
    assert "ValidTo" not in kms.describe_key(KeyId=key)["KeyMetadata"]


def test_new_key_material_rotates_on_demand_and_old_ciphertexts_decrypt(kms):
    key = external_key(kms)["KeyId"]
    first, second = os.urandom(32), os.urandom(32)
    first_id = import_material(kms, key, first)["KeyMaterialId"]
    with pytest.raises(ClientError) as excinfo:
        kms.rotate_key_on_demand(KeyId=key)
    assert error_of(excinfo)[0] == "KMSInvalidStateException"
    old = kms.encrypt(KeyId=key, Plaintext=b"before")["CiphertextBlob"]

    second_id = import_material(kms, key, second, ImportType="NEW_KEY_MATERIAL",
                                KeyMaterialDescription="second material")["KeyMaterialId"]
    assert second_id != first_id
    rotations = kms.list_key_rotations(KeyId=key, IncludeKeyMaterial="ALL_KEY_MATERIAL")["Rotations"]
    assert [(r["KeyMaterialId"], r["KeyMaterialState"], r["ImportState"]) for r in rotations] == [
        (first_id, "CURRENT", "IMPORTED"), (second_id, "PENDING_ROTATION", "IMPORTED")]
    assert rotations[1]["KeyMaterialDescription"] == "second material"
    assert "RotationDate" not in rotations[1]
    assert kms.list_key_rotations(KeyId=key)["Rotations"] == []
    assert decrypt_locally(first, kms.encrypt(KeyId=key, Plaintext=b"x")["CiphertextBlob"]) == b"x"

    assert kms.rotate_key_on_demand(KeyId=key)["KeyId"].endswith(key)
    assert kms.describe_key(KeyId=key)["KeyMetadata"]["CurrentKeyMaterialId"] == second_id
    rotated = kms.list_key_rotations(KeyId=key)["Rotations"]
    assert [(r["KeyMaterialId"], r["KeyMaterialState"], r["RotationType"]) for r in rotated] == [
        (second_id, "CURRENT", "ON_DEMAND")]
    new = kms.encrypt(KeyId=key, Plaintext=b"after")["CiphertextBlob"]
    assert decrypt_locally(second, new) == b"after"
    assert kms.decrypt(CiphertextBlob=old)["Plaintext"] == b"before"
    assert kms.decrypt(CiphertextBlob=new)["Plaintext"] == b"after"

    # Deleting the non-current material makes the key unusable until that material is back.
    kms.delete_imported_key_material(KeyId=key, KeyMaterialId=first_id)
    assert kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "PendingImport"
    listed = kms.list_key_rotations(KeyId=key, IncludeKeyMaterial="ALL_KEY_MATERIAL")["Rotations"]
    assert [r["ImportState"] for r in listed] == ["PENDING_IMPORT", "IMPORTED"]
    with pytest.raises(ClientError) as excinfo:
        import_material(kms, key, os.urandom(32), KeyMaterialId=first_id)
    assert error_of(excinfo)[0] == "IncorrectKeyMaterialException"
    import_material(kms, key, first, KeyMaterialId=first_id)
    assert kms.decrypt(CiphertextBlob=old)["Plaintext"] == b"before"


def test_key_policy_conditions_on_wrapping_algorithm_expiration_model_and_valid_to(kms, trent):
    """kms:WrappingAlgorithm (GetParametersForImport), kms:ExpirationModel and kms:ValidTo
    (ImportKeyMaterial, seconds since the epoch) as the developer guide's examples use them."""
    latest = int(time.time()) + 24 * 3600
    deny = {"Effect": "Deny", "Principal": {"AWS": "*"}, "Resource": "*"}
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{trent.account_id}:root"}, "Action": "kms:*",
         "Resource": "*"},
        {**deny, "Action": "kms:GetParametersForImport",
         "Condition": {"StringNotEquals": {"kms:WrappingAlgorithm": "RSAES_OAEP_SHA_256"}}},
        {**deny, "Action": "kms:ImportKeyMaterial",
         "Condition": {"StringEquals": {"kms:ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE"}}},
        {**deny, "Action": "kms:ImportKeyMaterial", "Condition": {"NumericGreaterThan": {"kms:ValidTo": str(latest)}}},
    ]}
    key = kms.create_key(Origin="EXTERNAL", Policy=json.dumps(policy))["KeyMetadata"]["KeyId"]
    with pytest.raises(ClientError) as excinfo:
        kms.get_parameters_for_import(KeyId=key, WrappingAlgorithm="RSAES_OAEP_SHA_1", WrappingKeySpec="RSA_2048")
    assert error_of(excinfo)[0] == "AccessDeniedException"
    material = os.urandom(32)
    now = datetime.datetime.now(datetime.timezone.utc)
    for extra in [{"ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE"},
                  {"ExpirationModel": "KEY_MATERIAL_EXPIRES", "ValidTo": now + datetime.timedelta(days=2)}]:
        with pytest.raises(ClientError) as excinfo:
            import_material(kms, key, material, **extra)
        assert error_of(excinfo)[0] == "AccessDeniedException", extra
    import_material(kms, key, material, ExpirationModel="KEY_MATERIAL_EXPIRES", ValidTo=now + datetime.timedelta(hours=1))
    assert kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "Enabled"


def test_trent_check_accepts_imported_material_in_every_state(trent, kms):
    """Last in this module: the session's Trent now holds imported keys with deleted, expired,
    pending-rotation and re-imported material (and HMAC material longer than the minimum);
    `trent check` must see them as they are, not as damage."""
    checked = run_trent_cli("check", "--data", trent.data_dir)
    assert checked.returncode == 0, checked.stdout + checked.stderr
