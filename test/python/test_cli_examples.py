"""The AWS CLI examples from issue 3, run as documented with the real AWS CLI (v1) against Trent;
key material is checked with the `cryptography` package."""
import base64

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

ALIAS = "alias/ExampleAlias"


@pytest.fixture(scope="module")
def example_key(aws):
    """A key created and aliased with the CLI, as the examples assume one exists."""
    metadata = aws("create-key", "--description", "issue 3 examples")["KeyMetadata"]
    aws("create-alias", "--alias-name", ALIAS, "--target-key-id", metadata["KeyId"])
    return metadata


def b64(value):
    return base64.b64decode(value, validate=True)


def cli_decrypt(aws, tmp_path, blob, *args):
    """`aws kms decrypt --ciphertext-blob fileb://...` with the blob written to a file."""
    path = tmp_path / "ciphertext.bin"
    path.write_bytes(blob)
    return aws("decrypt", "--ciphertext-blob", f"fileb://{path}", *args)


def test_generate_data_key_pair_rsa_2048_returns_a_matching_der_key_pair(aws, example_key, tmp_path):
    pair = aws("generate-data-key-pair", "--key-id", example_key["KeyId"], "--key-pair-spec", "RSA_2048")
    assert set(pair) >= {"PrivateKeyCiphertextBlob", "PrivateKeyPlaintext", "PublicKey", "KeyId", "KeyPairSpec"}
    assert pair["KeyId"] == example_key["Arn"]
    assert pair["KeyPairSpec"] == "RSA_2048"

    public_der, private_der = b64(pair["PublicKey"]), b64(pair["PrivateKeyPlaintext"])
    public_key = serialization.load_der_public_key(public_der)
    private_key = serialization.load_der_private_key(private_der, password=None)
    assert isinstance(public_key, rsa.RSAPublicKey) and isinstance(private_key, rsa.RSAPrivateKey)
    assert public_key.key_size == 2048
    assert private_key.public_key().public_numbers() == public_key.public_numbers()
    # DER SubjectPublicKeyInfo and PKCS#8, byte for byte as the standard encodings give them.
    assert public_key.public_bytes(serialization.Encoding.DER,
                                   serialization.PublicFormat.SubjectPublicKeyInfo) == public_der
    assert private_key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption()) == private_der
    signature = private_key.sign(b"issue 3", padding.PKCS1v15(), hashes.SHA256())
    public_key.verify(signature, b"issue 3", padding.PKCS1v15(), hashes.SHA256())

    decrypted = cli_decrypt(aws, tmp_path, b64(pair["PrivateKeyCiphertextBlob"]))
    assert b64(decrypted["Plaintext"]) == private_der
    assert decrypted["KeyId"] == example_key["Arn"]


def test_generate_data_key_pair_without_plaintext_ecc_nist_p384_omits_the_private_key(aws, example_key, tmp_path):
    pair = aws("generate-data-key-pair-without-plaintext", "--key-id", example_key["KeyId"],
               "--key-pair-spec", "ECC_NIST_P384")
    assert "PrivateKeyPlaintext" not in pair
    assert pair["KeyPairSpec"] == "ECC_NIST_P384"
    assert pair["KeyId"] == example_key["Arn"]
    public_key = serialization.load_der_public_key(b64(pair["PublicKey"]))
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    assert isinstance(public_key.curve, ec.SECP384R1)

    private_der = b64(cli_decrypt(aws, tmp_path, b64(pair["PrivateKeyCiphertextBlob"]))["Plaintext"])
    private_key = serialization.load_der_private_key(private_der, password=None)
    assert private_key.public_key().public_numbers() == public_key.public_numbers()


@pytest.mark.parametrize("args, length", [
    (("--key-spec", "AES_256"), 32),
    (("--key-spec", "AES_128"), 16),
    (("--number-of-bytes", "64"), 64),
], ids=["key-spec-AES_256", "key-spec-AES_128", "number-of-bytes-64"])
def test_generate_data_key_by_alias_returns_a_data_key_that_decrypts(aws, example_key, tmp_path, args, length):
    data_key = aws("generate-data-key", "--key-id", ALIAS, *args)
    assert data_key["KeyId"] == example_key["Arn"]
    plaintext = b64(data_key["Plaintext"])
    assert len(plaintext) == length
    decrypted = cli_decrypt(aws, tmp_path, b64(data_key["CiphertextBlob"]))
    assert b64(decrypted["Plaintext"]) == plaintext
    assert decrypted["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"


def test_generate_data_key_with_encryption_context_decrypts_only_with_that_context(aws, example_key, tmp_path):
    data_key = aws("generate-data-key", "--key-id", ALIAS, "--key-spec", "AES_256",
                   "--encryption-context", "purpose=test")
    blob = b64(data_key["CiphertextBlob"])
    with_context = cli_decrypt(aws, tmp_path, blob, "--encryption-context", "purpose=test")
    assert b64(with_context["Plaintext"]) == b64(data_key["Plaintext"])

    path = tmp_path / "ciphertext.bin"
    for args in ((), ("--encryption-context", "purpose=prod")):
        result = aws("decrypt", "--ciphertext-blob", f"fileb://{path}", *args, check=False)
        assert result.returncode != 0
        assert "InvalidCiphertextException" in result.stderr
        assert result.stdout == ""


def test_decrypt_query_plaintext_text_output_is_the_base64_of_the_plaintext(aws, example_key, tmp_path):
    source = tmp_path / "ExamplePlaintextFile"
    source.write_bytes(b"\x00binary\xffdata\n")
    encrypted = aws("encrypt", "--key-id", ALIAS, "--plaintext", f"fileb://{source}")
    assert encrypted["KeyId"] == example_key["Arn"]
    blob_file = tmp_path / "ExampleEncryptedFile"
    blob_file.write_bytes(b64(encrypted["CiphertextBlob"]))
    text = aws("decrypt", "--ciphertext-blob", f"fileb://{blob_file}", "--key-id", example_key["KeyId"],
               "--query", "Plaintext", output="text")
    assert base64.b64decode(text.strip()) == source.read_bytes()


def test_cli_reports_a_kms_error_by_its_code(aws):
    result = aws("describe-key", "--key-id", "alias/ThereIsNoSuchAlias", check=False)
    assert result.returncode != 0
    assert "NotFoundException" in result.stderr
    assert "alias/ThereIsNoSuchAlias is not found" in result.stderr


# --- AWS behaviour Trent does not match yet --------------------------------------------------

