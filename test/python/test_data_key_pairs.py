"""GenerateDataKeyPair(WithoutPlaintext) through boto3 for the fast key pair specs: DER encodings
that standard tooling loads, a private key sealed under the KMS key, and the public half matching."""
import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from harness import error_of

# (spec, expected public key type, curve or key size); RSA_3072/4096 are left out to keep the suite fast.
SPECS = [
    ("RSA_2048", rsa.RSAPublicKey, 2048),
    ("ECC_NIST_P256", ec.EllipticCurvePublicKey, ec.SECP256R1),
    ("ECC_NIST_P384", ec.EllipticCurvePublicKey, ec.SECP384R1),
    ("ECC_NIST_P521", ec.EllipticCurvePublicKey, ec.SECP521R1),
    ("ECC_SECG_P256K1", ec.EllipticCurvePublicKey, ec.SECP256K1),
    ("ECC_NIST_EDWARDS25519", ed25519.Ed25519PublicKey, None),
]


def public_numbers(key):
    if isinstance(key, ed25519.Ed25519PublicKey):
        return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return key.public_numbers()


@pytest.mark.parametrize("spec, key_type, detail", SPECS, ids=[s[0] for s in SPECS])
def test_generate_data_key_pair_returns_matching_der_keys_and_a_sealed_private_key(kms, new_key, spec, key_type,
                                                                                   detail):
    key = new_key()
    pair = kms.generate_data_key_pair(KeyId=key["KeyId"], KeyPairSpec=spec, EncryptionContext={"spec": spec})
    assert (pair["KeyId"], pair["KeyPairSpec"]) == (key["Arn"], spec)
    public_key = serialization.load_der_public_key(pair["PublicKey"])
    private_key = serialization.load_der_private_key(pair["PrivateKeyPlaintext"], password=None)
    assert isinstance(public_key, key_type)
    if key_type is rsa.RSAPublicKey:
        assert public_key.key_size == detail
    elif detail is not None:
        assert isinstance(public_key.curve, detail)
    assert public_numbers(private_key.public_key()) == public_numbers(public_key)
    opened = kms.decrypt(CiphertextBlob=pair["PrivateKeyCiphertextBlob"], EncryptionContext={"spec": spec})
    assert opened["Plaintext"] == pair["PrivateKeyPlaintext"]


@pytest.mark.parametrize("spec, key_type, detail", SPECS, ids=[s[0] for s in SPECS])
def test_generate_data_key_pair_without_plaintext_omits_only_the_private_key(kms, new_key, spec, key_type, detail):
    key = new_key()
    pair = kms.generate_data_key_pair_without_plaintext(KeyId=key["KeyId"], KeyPairSpec=spec)
    assert "PrivateKeyPlaintext" not in pair
    assert {"PrivateKeyCiphertextBlob", "PublicKey", "KeyId", "KeyPairSpec"} <= set(pair)
    public_key = serialization.load_der_public_key(pair["PublicKey"])
    private_der = kms.decrypt(CiphertextBlob=pair["PrivateKeyCiphertextBlob"])["Plaintext"]
    private_key = serialization.load_der_private_key(private_der, password=None)
    assert public_numbers(private_key.public_key()) == public_numbers(public_key)


def test_every_data_key_pair_is_fresh(kms, new_key):
    key_id = new_key()["KeyId"]
    publics = {kms.generate_data_key_pair(KeyId=key_id, KeyPairSpec="ECC_NIST_P256")["PublicKey"] for _ in range(5)}
    assert len(publics) == 5


def test_generate_data_key_pair_on_a_disabled_key_is_disabled(kms, new_key):
    key = new_key()
    kms.disable_key(KeyId=key["KeyId"])
    with pytest.raises(ClientError) as excinfo:
        kms.generate_data_key_pair(KeyId=key["KeyId"], KeyPairSpec="ECC_NIST_P256")
    assert error_of(excinfo) == ("DisabledException", f"{key['Arn']} is disabled.", 400)
