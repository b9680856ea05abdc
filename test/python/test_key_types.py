"""Every KeySpec x KeyUsage of the service model through CreateKey, DescribeKey and GetPublicKey: the
allowed ones are created with AWS's algorithm lists and a public key that `cryptography` reads; the
others are refused with AWS's message."""
import gzip
import json
import os
import subprocess

import botocore
import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from harness import error_of

MODEL = json.load(gzip.open(os.path.join(os.path.dirname(botocore.__file__), "data/kms/2014-11-01/service-2.json.gz")))
KEY_SPECS = MODEL["shapes"]["KeySpec"]["enum"]
KEY_USAGES = MODEL["shapes"]["KeyUsageType"]["enum"]

RSA_SIGNING = ["RSASSA_PKCS1_V1_5_SHA_256", "RSASSA_PKCS1_V1_5_SHA_384", "RSASSA_PKCS1_V1_5_SHA_512",
               "RSASSA_PSS_SHA_256", "RSASSA_PSS_SHA_384", "RSASSA_PSS_SHA_512"]
# AWS's developer guide, "Key spec reference": the usages each spec allows and the algorithms of each.
ALLOWED = {
    ("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT"): {"EncryptionAlgorithms": ["SYMMETRIC_DEFAULT"]},
    **{(f"RSA_{bits}", "ENCRYPT_DECRYPT"): {"EncryptionAlgorithms": ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"]}
       for bits in (2048, 3072, 4096)},
    **{(f"RSA_{bits}", "SIGN_VERIFY"): {"SigningAlgorithms": RSA_SIGNING} for bits in (2048, 3072, 4096)},
    ("ECC_NIST_P256", "SIGN_VERIFY"): {"SigningAlgorithms": ["ECDSA_SHA_256"]},
    ("ECC_NIST_P384", "SIGN_VERIFY"): {"SigningAlgorithms": ["ECDSA_SHA_384"]},
    ("ECC_NIST_P521", "SIGN_VERIFY"): {"SigningAlgorithms": ["ECDSA_SHA_512"]},
    **{(f"ECC_NIST_P{bits}", "KEY_AGREEMENT"): {"KeyAgreementAlgorithms": ["ECDH"]} for bits in (256, 384, 521)},
    ("ECC_SECG_P256K1", "SIGN_VERIFY"): {"SigningAlgorithms": ["ECDSA_SHA_256"]},
    ("ECC_NIST_EDWARDS25519", "SIGN_VERIFY"): {"SigningAlgorithms": ["ED25519_SHA_512", "ED25519_PH_SHA_512"]},
    ("SM2", "ENCRYPT_DECRYPT"): {"EncryptionAlgorithms": ["SM2PKE"]},
    ("SM2", "SIGN_VERIFY"): {"SigningAlgorithms": ["SM2DSA"]},
    ("SM2", "KEY_AGREEMENT"): {"KeyAgreementAlgorithms": ["ECDH"]},
    **{(f"HMAC_{bits}", "GENERATE_VERIFY_MAC"): {"MacAlgorithms": [f"HMAC_SHA_{bits}"]} for bits in (224, 256, 384, 512)},
    **{(f"ML_DSA_{level}", "SIGN_VERIFY"): {"SigningAlgorithms": ["ML_DSA_SHAKE_256"]} for level in (44, 65, 87)},
}
ALGORITHM_LISTS = ("EncryptionAlgorithms", "SigningAlgorithms", "MacAlgorithms", "KeyAgreementAlgorithms")
CURVES = {"ECC_NIST_P256": ec.SECP256R1, "ECC_NIST_P384": ec.SECP384R1, "ECC_NIST_P521": ec.SECP521R1,
          "ECC_SECG_P256K1": ec.SECP256K1}
ML_DSA_SPKI_BYTES = {"ML_DSA_44": 1334, "ML_DSA_65": 1974, "ML_DSA_87": 2614}
# OIDs 2.16.840.1.101.3.4.3.17-19 and 1.2.156.10197.1.301, DER-encoded.
ML_DSA_OIDS = {"ML_DSA_44": "0609608648016503040311", "ML_DSA_65": "0609608648016503040312",
               "ML_DSA_87": "0609608648016503040313"}
SM2_CURVE_OID = "06082a811ccf5501822d"


def test_the_table_covers_every_spec_of_the_model():
    assert {spec for spec, _ in ALLOWED} == set(KEY_SPECS)


@pytest.mark.parametrize("key_spec, key_usage", sorted(ALLOWED), ids=lambda v: v)
def test_allowed_combination_is_created_with_its_algorithms_and_public_key(kms, key_spec, key_usage):
    metadata = kms.create_key(KeySpec=key_spec, KeyUsage=key_usage)["KeyMetadata"]
    expected = ALLOWED[(key_spec, key_usage)]
    assert metadata["KeySpec"] == key_spec and metadata["KeyUsage"] == key_usage
    described = kms.describe_key(KeyId=metadata["KeyId"])["KeyMetadata"]
    for metadata_of in (metadata, described):
        assert {name: metadata_of[name] for name in ALGORITHM_LISTS if name in metadata_of} == expected
    if key_spec == "SYMMETRIC_DEFAULT" or key_spec.startswith("HMAC_"):
        with pytest.raises(ClientError) as excinfo:
            kms.get_public_key(KeyId=metadata["KeyId"])
        assert error_of(excinfo)[0] == "UnsupportedOperationException"
        return

    public = kms.get_public_key(KeyId=metadata["KeyId"])
    assert public["KeyId"] == metadata["Arn"]
    assert public["KeySpec"] == key_spec and public["KeyUsage"] == key_usage
    assert {name: public[name] for name in ALGORITHM_LISTS if name in public} == expected
    der = public["PublicKey"]
    if key_spec.startswith("ML_DSA_"):
        assert len(der) == ML_DSA_SPKI_BYTES[key_spec]
        assert der[4:17].hex() == f"300b{ML_DSA_OIDS[key_spec]}"
        return
    if key_spec == "SM2":
        assert SM2_CURVE_OID in der.hex()
        text = subprocess.run(["openssl", "pkey", "-pubin", "-inform", "DER", "-text", "-noout"], input=der,
                              capture_output=True, check=True).stdout.decode()
        assert "SM2" in text
        return
    key = serialization.load_der_public_key(der)
    if key_spec.startswith("RSA_"):
        assert isinstance(key, rsa.RSAPublicKey) and key.key_size == int(key_spec[4:])
        assert key.public_numbers().e == 65537
    elif key_spec == "ECC_NIST_EDWARDS25519":
        assert isinstance(key, ed25519.Ed25519PublicKey) and len(der) == 44
    else:
        assert isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, CURVES[key_spec])
    assert key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) == der


@pytest.mark.parametrize("key_spec, key_usage",
                         sorted((s, u) for s in KEY_SPECS for u in KEY_USAGES if (s, u) not in ALLOWED),
                         ids=lambda v: v)
def test_refused_combination_is_a_validation_error(kms, key_spec, key_usage):
    with pytest.raises(ClientError) as excinfo:
        kms.create_key(KeySpec=key_spec, KeyUsage=key_usage)
    assert error_of(excinfo) == ("ValidationException",
                                 f"KeyUsage {key_usage} is not compatible with KeySpec {key_spec}", 400)


@pytest.mark.parametrize("key_spec", ["RSA_2048", "HMAC_256", "ECC_NIST_P256", "ML_DSA_44"])
def test_key_usage_is_required_except_for_symmetric_keys(kms, key_spec):
    with pytest.raises(ClientError) as excinfo:
        kms.create_key(KeySpec=key_spec)
    assert error_of(excinfo) == (
        "ValidationException",
        "You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys.", 400)


def test_cli_get_public_key_writes_a_der_key_openssl_reads(aws, tmp_path):
    key_id = aws("create-key", "--key-spec", "ECC_NIST_P384", "--key-usage", "SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    der_file = tmp_path / "public.der"
    text = aws("get-public-key", "--key-id", key_id, "--query", "PublicKey", output="text")
    der_file.write_bytes(__import__("base64").b64decode(text.strip()))
    out = subprocess.run(["openssl", "pkey", "-pubin", "-inform", "DER", "-in", str(der_file), "-text", "-noout"],
                         capture_output=True, check=True, text=True).stdout
    assert "secp384r1" in out or "P-384" in out


def test_data_key_operations_refuse_asymmetric_keys(kms):
    key_id = kms.create_key(KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]["KeyId"]
    for call in (lambda: kms.generate_data_key(KeyId=key_id, KeySpec="AES_256"),
                 lambda: kms.generate_data_key_pair(KeyId=key_id, KeyPairSpec="ECC_NIST_P256")):
        with pytest.raises(ClientError) as excinfo:
            call()
        assert error_of(excinfo)[0] == "InvalidKeyUsageException"


def test_private_key_material_is_stored_wrapped(trent, kms):
    """The store holds the PKCS#8 private key only wrapped: its public key never appears next to plaintext DER."""
    key_id = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    der = kms.get_public_key(KeyId=key_id)["PublicKey"]
    point = der[-65:]
    db = os.path.join(trent.data_dir, "trent.db")
    if not os.path.exists(db):
        pytest.skip("the store is PostgreSQL")
    for name in os.listdir(trent.data_dir):
        path = os.path.join(trent.data_dir, name)
        if os.path.isfile(path):
            with open(path, "rb") as f:
                content = f.read()
            # A PKCS#8 EC key carries its public point; unwrapped material would show it.
            assert point not in content, name
