"""Encrypt, Decrypt and ReEncrypt with RSA and SM2 ENCRYPT_DECRYPT key pairs, checked against
independent implementations holding only the public key from GetPublicKey: `cryptography` for
RSAES-OAEP (MGF1 with the same hash, no label) and the OpenSSL command line for SM2PKE."""
import base64
import os
import subprocess

import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from harness import error_of

RSA_SPECS = ("RSA_2048", "RSA_3072", "RSA_4096")
OAEP = ("RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256")
LIMITS = {
    ("RSA_2048", "RSAES_OAEP_SHA_1"): 214, ("RSA_2048", "RSAES_OAEP_SHA_256"): 190,
    ("RSA_3072", "RSAES_OAEP_SHA_1"): 342, ("RSA_3072", "RSAES_OAEP_SHA_256"): 318,
    ("RSA_4096", "RSAES_OAEP_SHA_1"): 470, ("RSA_4096", "RSAES_OAEP_SHA_256"): 446,
    ("SM2", "SM2PKE"): 1024,
}
RSA_COMBINATIONS = [(spec, algorithm) for spec in RSA_SPECS for algorithm in OAEP]

# GB/T 32918.5 curve parameters, to check that SM2PKE's C1 is a point on the curve.
SM2_P = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF
SM2_A = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC
SM2_B = 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93


@pytest.fixture(scope="module")
def keys(kms):
    """One ENCRYPT_DECRYPT key per asymmetric spec (RSA_4096 takes seconds), with its public key."""
    made = {}
    for spec in (*RSA_SPECS, "SM2"):
        metadata = kms.create_key(KeySpec=spec, KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]
        public = kms.get_public_key(KeyId=metadata["KeyId"])
        made[spec] = {**metadata, "PublicKey": public["PublicKey"]}
    return made


@pytest.fixture(scope="module")
def symmetric(kms):
    return kms.create_key()["KeyMetadata"]


def oaep(algorithm):
    digest = hashes.SHA1() if algorithm == "RSAES_OAEP_SHA_1" else hashes.SHA256()
    return padding.OAEP(mgf=padding.MGF1(algorithm=digest), algorithm=digest, label=None)


def local_rsa_encrypt(key, algorithm, plaintext):
    public_key = serialization.load_der_public_key(key["PublicKey"])
    assert isinstance(public_key, rsa.RSAPublicKey)
    return public_key.encrypt(plaintext, oaep(algorithm))


def flipped(blob, index):
    return blob[:index] + bytes([blob[index] ^ 0x01]) + blob[index + 1:]


def der_items(blob):
    """The TLVs inside a DER SEQUENCE, read by hand: [(tag, content)]."""
    def read(data, offset):
        tag, length = data[offset], data[offset + 1]
        offset += 2
        if length & 0x80:
            count = length & 0x7F
            length = int.from_bytes(data[offset:offset + count], "big")
            offset += count
        return tag, data[offset:offset + length], offset + length

    tag, body, end = read(blob, 0)
    assert tag == 0x30 and end == len(blob)
    items, offset = [], 0
    while offset < len(body):
        tag, content, offset = read(body, offset)
        items.append((tag, content))
    return items


# --- RSA -------------------------------------------------------------------------------------

@pytest.mark.parametrize("spec,algorithm", RSA_COMBINATIONS)
def test_trent_decrypts_the_largest_plaintext_encrypted_locally_with_the_public_key(kms, keys, spec, algorithm):
    key = keys[spec]
    plaintext = os.urandom(LIMITS[(spec, algorithm)])
    ciphertext = local_rsa_encrypt(key, algorithm, plaintext)
    decrypted = kms.decrypt(CiphertextBlob=ciphertext, KeyId=key["KeyId"], EncryptionAlgorithm=algorithm)
    decrypted.pop("ResponseMetadata")
    assert decrypted == {"KeyId": key["Arn"], "Plaintext": plaintext, "EncryptionAlgorithm": algorithm}


@pytest.mark.parametrize("spec,algorithm", RSA_COMBINATIONS)
def test_trent_ciphertext_is_one_modulus_long_decrypts_and_a_flipped_bit_is_invalid(kms, keys, spec, algorithm):
    key = keys[spec]
    public_numbers = serialization.load_der_public_key(key["PublicKey"]).public_numbers()
    plaintext = b"the eagle lands at midnight"
    encrypted = kms.encrypt(KeyId=key["KeyId"], Plaintext=plaintext, EncryptionAlgorithm=algorithm)
    encrypted.pop("ResponseMetadata")
    assert set(encrypted) == {"CiphertextBlob", "KeyId", "EncryptionAlgorithm"}
    assert encrypted["KeyId"] == key["Arn"] and encrypted["EncryptionAlgorithm"] == algorithm
    ciphertext = encrypted["CiphertextBlob"]
    # Raw RSAES-OAEP: exactly k bytes, an integer below the public modulus, no header.
    assert len(ciphertext) == int(spec[4:]) // 8
    assert int.from_bytes(ciphertext, "big") < public_numbers.n
    # OAEP is randomized.
    again = kms.encrypt(KeyId=key["KeyId"], Plaintext=plaintext, EncryptionAlgorithm=algorithm)["CiphertextBlob"]
    assert again != ciphertext

    decrypted = kms.decrypt(CiphertextBlob=ciphertext, KeyId=key["Arn"], EncryptionAlgorithm=algorithm)
    assert decrypted["Plaintext"] == plaintext and "KeyMaterialId" not in decrypted
    for index in (0, len(ciphertext) // 2, len(ciphertext) - 1):
        with pytest.raises(ClientError) as caught:
            kms.decrypt(CiphertextBlob=flipped(ciphertext, index), KeyId=key["KeyId"], EncryptionAlgorithm=algorithm)
        assert error_of(caught)[0] == "InvalidCiphertextException"


@pytest.mark.parametrize("spec,algorithm", list(LIMITS))
def test_exactly_the_limit_encrypts_and_one_byte_more_is_refused(kms, keys, spec, algorithm):
    key, limit = keys[spec], LIMITS[(spec, algorithm)]
    plaintext = os.urandom(limit)
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=plaintext, EncryptionAlgorithm=algorithm)["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob, KeyId=key["KeyId"], EncryptionAlgorithm=algorithm)["Plaintext"] == plaintext
    with pytest.raises(ClientError) as caught:
        kms.encrypt(KeyId=key["KeyId"], Plaintext=plaintext + b"x", EncryptionAlgorithm=algorithm)
    assert error_of(caught) == (
        "ValidationException",
        f"Algorithm {algorithm} and key spec {spec} cannot encrypt data larger than {limit} bytes.", 400)


def test_a_ciphertext_does_not_decrypt_under_the_other_hash_or_another_key(kms, keys):
    key = keys["RSA_2048"]
    sha1 = local_rsa_encrypt(key, "RSAES_OAEP_SHA_1", b"secret")
    for key_id, algorithm in ((key["KeyId"], "RSAES_OAEP_SHA_256"), (keys["RSA_3072"]["KeyId"], "RSAES_OAEP_SHA_1")):
        with pytest.raises(ClientError) as caught:
            kms.decrypt(CiphertextBlob=sha1, KeyId=key_id, EncryptionAlgorithm=algorithm)
        assert error_of(caught)[0] == "InvalidCiphertextException"


# --- SM2 -------------------------------------------------------------------------------------

def openssl_sm2_encrypt(tmp_path, public_key_der, plaintext):
    (tmp_path / "sm2.spki").write_bytes(public_key_der)
    (tmp_path / "plaintext").write_bytes(plaintext)
    return subprocess.run(
        ["openssl", "pkeyutl", "-encrypt", "-pubin", "-keyform", "DER", "-inkey", str(tmp_path / "sm2.spki"),
         "-in", str(tmp_path / "plaintext")], check=True, capture_output=True).stdout


@pytest.mark.parametrize("size", [1, 1024])
def test_trent_decrypts_sm2pke_made_by_openssl_with_the_public_key(kms, keys, tmp_path, size):
    key = keys["SM2"]
    plaintext = os.urandom(size)
    ciphertext = openssl_sm2_encrypt(tmp_path, key["PublicKey"], plaintext)
    decrypted = kms.decrypt(CiphertextBlob=ciphertext, KeyId=key["KeyId"], EncryptionAlgorithm="SM2PKE")
    decrypted.pop("ResponseMetadata")
    assert decrypted == {"KeyId": key["Arn"], "Plaintext": plaintext, "EncryptionAlgorithm": "SM2PKE"}


def test_trent_sm2pke_is_a_der_sequence_of_a_curve_point_sm3_hash_and_ciphertext(kms, keys):
    key = keys["SM2"]
    plaintext = b"SM2 public key encryption"
    encrypted = kms.encrypt(KeyId=key["KeyId"], Plaintext=plaintext, EncryptionAlgorithm="SM2PKE")
    encrypted.pop("ResponseMetadata")
    assert set(encrypted) == {"CiphertextBlob", "KeyId", "EncryptionAlgorithm"}
    assert encrypted["EncryptionAlgorithm"] == "SM2PKE"
    ciphertext = encrypted["CiphertextBlob"]
    items = der_items(ciphertext)
    assert [tag for tag, _ in items] == [0x02, 0x02, 0x04, 0x04]
    x, y = (int.from_bytes(content, "big") for _, content in items[:2])
    assert (y * y - (x ** 3 + SM2_A * x + SM2_B)) % SM2_P == 0, "C1 is not on the SM2 curve"
    assert len(items[2][1]) == 32 and len(items[3][1]) == len(plaintext)
    assert items[3][1] != plaintext

    decrypted = kms.decrypt(CiphertextBlob=ciphertext, KeyId=key["KeyId"], EncryptionAlgorithm="SM2PKE")
    assert decrypted["Plaintext"] == plaintext and "KeyMaterialId" not in decrypted
    for index in (10, len(ciphertext) - 40, len(ciphertext) - 1):  # in x, in C3, in C2
        with pytest.raises(ClientError) as caught:
            kms.decrypt(CiphertextBlob=flipped(ciphertext, index), KeyId=key["KeyId"], EncryptionAlgorithm="SM2PKE")
        assert error_of(caught)[0] == "InvalidCiphertextException"


# --- refusals --------------------------------------------------------------------------------

def test_encryption_context_is_refused_with_a_key_pair(kms, keys):
    key = keys["RSA_2048"]
    with pytest.raises(ClientError) as caught:
        kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x", EncryptionAlgorithm="RSAES_OAEP_SHA_256",
                    EncryptionContext={"purpose": "test"})
    assert error_of(caught)[0] == "ValidationException"
    assert "EncryptionContext is not supported" in error_of(caught)[1]
    ciphertext = local_rsa_encrypt(key, "RSAES_OAEP_SHA_256", b"x")
    with pytest.raises(ClientError) as caught:
        kms.decrypt(CiphertextBlob=ciphertext, KeyId=key["KeyId"], EncryptionAlgorithm="RSAES_OAEP_SHA_256",
                    EncryptionContext={"purpose": "test"})
    assert error_of(caught)[0] == "ValidationException"


@pytest.mark.parametrize("spec,algorithm", [
    ("RSA_2048", None), ("RSA_2048", "SYMMETRIC_DEFAULT"), ("RSA_2048", "SM2PKE"),
    ("SM2", "RSAES_OAEP_SHA_256"), ("SYMMETRIC_DEFAULT", "RSAES_OAEP_SHA_256"), ("SYMMETRIC_DEFAULT", "SM2PKE"),
])
def test_encrypt_with_an_algorithm_the_key_does_not_offer_is_invalid_key_usage(kms, keys, symmetric, spec,
                                                                               algorithm):
    key = symmetric if spec == "SYMMETRIC_DEFAULT" else keys[spec]
    extra = {} if algorithm is None else {"EncryptionAlgorithm": algorithm}
    with pytest.raises(ClientError) as caught:
        kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x", **extra)
    shown = algorithm or "SYMMETRIC_DEFAULT"
    assert error_of(caught) == ("InvalidKeyUsageException",
                                f"Algorithm {shown} is incompatible with key spec {spec}.", 400)


def test_a_sign_verify_key_pair_neither_encrypts_nor_decrypts(kms):
    key = kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    with pytest.raises(ClientError) as caught:
        kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x", EncryptionAlgorithm="RSAES_OAEP_SHA_256")
    assert error_of(caught) == (
        "InvalidKeyUsageException", f"{key['Arn']} key usage is SIGN_VERIFY which is not valid for Encrypt.", 400)
    with pytest.raises(ClientError) as caught:
        kms.decrypt(CiphertextBlob=b"\x01" * 256, KeyId=key["KeyId"], EncryptionAlgorithm="RSAES_OAEP_SHA_256")
    assert error_of(caught) == (
        "InvalidKeyUsageException", f"{key['Arn']} key usage is SIGN_VERIFY which is not valid for Decrypt.", 400)


def test_decrypt_of_a_key_pair_ciphertext_needs_the_key_id_and_the_algorithm(kms, keys):
    key = keys["RSA_2048"]
    ciphertext = local_rsa_encrypt(key, "RSAES_OAEP_SHA_256", b"needs both")
    with pytest.raises(ClientError) as caught:
        kms.decrypt(CiphertextBlob=ciphertext, EncryptionAlgorithm="RSAES_OAEP_SHA_256")
    assert error_of(caught)[0] == "ValidationException" and "KeyId is required" in error_of(caught)[1]
    for extra in ({}, {"EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}):
        with pytest.raises(ClientError) as caught:
            kms.decrypt(CiphertextBlob=ciphertext, KeyId=key["KeyId"], **extra)
        assert error_of(caught) == ("InvalidKeyUsageException",
                                    "Algorithm SYMMETRIC_DEFAULT is incompatible with key spec RSA_2048.", 400)
    # Without either, the blob is taken for a symmetric ciphertext, as AWS does.
    with pytest.raises(ClientError) as caught:
        kms.decrypt(CiphertextBlob=ciphertext)
    assert error_of(caught)[0] == "InvalidCiphertextException"


def test_dry_run_and_a_disabled_key_pair(kms, keys):
    key = keys["SM2"]
    ciphertext = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x", EncryptionAlgorithm="SM2PKE")["CiphertextBlob"]
    with pytest.raises(ClientError) as caught:
        kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x", EncryptionAlgorithm="SM2PKE", DryRun=True)
    assert error_of(caught)[0] == "DryRunOperationException"
    with pytest.raises(ClientError) as caught:
        kms.decrypt(CiphertextBlob=ciphertext, KeyId=key["KeyId"], EncryptionAlgorithm="SM2PKE", DryRun=True)
    assert error_of(caught)[0] == "DryRunOperationException"
    with pytest.raises(ClientError) as caught:  # a dry run still checks the ciphertext
        kms.decrypt(CiphertextBlob=flipped(ciphertext, len(ciphertext) - 1), KeyId=key["KeyId"],
                    EncryptionAlgorithm="SM2PKE", DryRun=True)
    assert error_of(caught)[0] == "InvalidCiphertextException"

    kms.disable_key(KeyId=key["KeyId"])
    try:
        for call in (lambda: kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x", EncryptionAlgorithm="SM2PKE"),
                     lambda: kms.decrypt(CiphertextBlob=ciphertext, KeyId=key["KeyId"], EncryptionAlgorithm="SM2PKE")):
            with pytest.raises(ClientError) as caught:
                call()
            assert error_of(caught)[0] == "DisabledException"
    finally:
        kms.enable_key(KeyId=key["KeyId"])
    assert kms.decrypt(CiphertextBlob=ciphertext, KeyId=key["KeyId"], EncryptionAlgorithm="SM2PKE")["Plaintext"] == b"x"


# --- ReEncrypt -------------------------------------------------------------------------------

def test_reencrypt_from_rsa_to_symmetric_and_back(kms, keys, symmetric):
    rsa_key = keys["RSA_3072"]
    plaintext = b"moves between key types"
    local = local_rsa_encrypt(rsa_key, "RSAES_OAEP_SHA_1", plaintext)

    to_symmetric = kms.re_encrypt(CiphertextBlob=local, SourceKeyId=rsa_key["KeyId"],
                                  SourceEncryptionAlgorithm="RSAES_OAEP_SHA_1", DestinationKeyId=symmetric["KeyId"])
    assert to_symmetric["SourceKeyId"] == rsa_key["Arn"] and to_symmetric["KeyId"] == symmetric["Arn"]
    assert to_symmetric["SourceEncryptionAlgorithm"] == "RSAES_OAEP_SHA_1"
    assert to_symmetric["DestinationEncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    assert "SourceKeyMaterialId" not in to_symmetric and len(to_symmetric["DestinationKeyMaterialId"]) == 64
    assert kms.decrypt(CiphertextBlob=to_symmetric["CiphertextBlob"])["Plaintext"] == plaintext

    to_rsa = kms.re_encrypt(CiphertextBlob=to_symmetric["CiphertextBlob"], DestinationKeyId=rsa_key["KeyId"],
                            DestinationEncryptionAlgorithm="RSAES_OAEP_SHA_256")
    assert to_rsa["SourceKeyId"] == symmetric["Arn"] and to_rsa["KeyId"] == rsa_key["Arn"]
    assert to_rsa["SourceEncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    assert to_rsa["DestinationEncryptionAlgorithm"] == "RSAES_OAEP_SHA_256"
    assert len(to_rsa["SourceKeyMaterialId"]) == 64 and "DestinationKeyMaterialId" not in to_rsa
    assert len(to_rsa["CiphertextBlob"]) == 384
    assert kms.decrypt(CiphertextBlob=to_rsa["CiphertextBlob"], KeyId=rsa_key["KeyId"],
                       EncryptionAlgorithm="RSAES_OAEP_SHA_256")["Plaintext"] == plaintext


def test_reencrypt_between_two_key_pairs(kms, keys):
    plaintext = b"from SM2 to RSA"
    sm2 = kms.encrypt(KeyId=keys["SM2"]["KeyId"], Plaintext=plaintext, EncryptionAlgorithm="SM2PKE")
    moved = kms.re_encrypt(CiphertextBlob=sm2["CiphertextBlob"], SourceKeyId=keys["SM2"]["KeyId"],
                           SourceEncryptionAlgorithm="SM2PKE", DestinationKeyId=keys["RSA_2048"]["KeyId"],
                           DestinationEncryptionAlgorithm="RSAES_OAEP_SHA_1")
    assert "SourceKeyMaterialId" not in moved and "DestinationKeyMaterialId" not in moved
    assert kms.decrypt(CiphertextBlob=moved["CiphertextBlob"], KeyId=keys["RSA_2048"]["KeyId"],
                       EncryptionAlgorithm="RSAES_OAEP_SHA_1")["Plaintext"] == plaintext


def test_reencrypt_refusals_with_key_pairs(kms, keys, symmetric):
    rsa_key = keys["RSA_2048"]
    large = kms.encrypt(KeyId=symmetric["KeyId"], Plaintext=os.urandom(191))["CiphertextBlob"]
    with pytest.raises(ClientError) as caught:
        kms.re_encrypt(CiphertextBlob=large, DestinationKeyId=rsa_key["KeyId"],
                       DestinationEncryptionAlgorithm="RSAES_OAEP_SHA_256")
    assert error_of(caught) == (
        "ValidationException",
        "Algorithm RSAES_OAEP_SHA_256 and key spec RSA_2048 cannot encrypt data larger than 190 bytes.", 400)

    with pytest.raises(ClientError) as caught:
        kms.re_encrypt(CiphertextBlob=large, DestinationKeyId=rsa_key["KeyId"])
    assert error_of(caught) == ("InvalidKeyUsageException",
                                "Algorithm SYMMETRIC_DEFAULT is incompatible with key spec RSA_2048.", 400)

    with pytest.raises(ClientError) as caught:
        kms.re_encrypt(CiphertextBlob=large, DestinationKeyId=rsa_key["KeyId"],
                       DestinationEncryptionAlgorithm="RSAES_OAEP_SHA_1", DestinationEncryptionContext={"a": "b"})
    assert error_of(caught)[0] == "ValidationException"

    local = local_rsa_encrypt(rsa_key, "RSAES_OAEP_SHA_256", b"x")
    with pytest.raises(ClientError) as caught:
        kms.re_encrypt(CiphertextBlob=local, SourceEncryptionAlgorithm="RSAES_OAEP_SHA_256",
                       DestinationKeyId=symmetric["KeyId"])
    assert error_of(caught)[0] == "ValidationException" and "SourceKeyId is required" in error_of(caught)[1]
    with pytest.raises(ClientError) as caught:
        kms.re_encrypt(CiphertextBlob=local, SourceKeyId=rsa_key["KeyId"], DestinationKeyId=symmetric["KeyId"])
    assert error_of(caught)[0] == "InvalidKeyUsageException"


# --- symmetric keys and the CLI --------------------------------------------------------------

def test_symmetric_encrypt_and_decrypt_are_unchanged(kms, symmetric):
    encrypted = kms.encrypt(KeyId=symmetric["KeyId"], Plaintext=b"plain", EncryptionAlgorithm="SYMMETRIC_DEFAULT",
                            EncryptionContext={"k": "v"})
    assert encrypted["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    decrypted = kms.decrypt(CiphertextBlob=encrypted["CiphertextBlob"], EncryptionContext={"k": "v"})
    assert decrypted["Plaintext"] == b"plain" and len(decrypted["KeyMaterialId"]) == 64
    assert decrypted["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"


def test_cli_encrypts_with_rsaes_oaep_sha_256_and_decrypts(aws, keys, tmp_path):
    key = keys["RSA_4096"]
    (tmp_path / "plaintext").write_bytes(b"hello from the AWS CLI")
    encrypted = aws("encrypt", "--key-id", key["KeyId"], "--plaintext", f"fileb://{tmp_path / 'plaintext'}",
                    "--encryption-algorithm", "RSAES_OAEP_SHA_256")
    assert encrypted["KeyId"] == key["Arn"] and encrypted["EncryptionAlgorithm"] == "RSAES_OAEP_SHA_256"
    ciphertext = base64.b64decode(encrypted["CiphertextBlob"], validate=True)
    assert len(ciphertext) == 512
    (tmp_path / "ciphertext").write_bytes(ciphertext)
    decrypted = aws("decrypt", "--ciphertext-blob", f"fileb://{tmp_path / 'ciphertext'}", "--key-id", key["KeyId"],
                    "--encryption-algorithm", "RSAES_OAEP_SHA_256")
    assert base64.b64decode(decrypted["Plaintext"]) == b"hello from the AWS CLI"
