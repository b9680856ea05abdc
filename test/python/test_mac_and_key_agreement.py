"""GenerateMac, VerifyMac and DeriveSharedSecret through boto3 and the AWS CLI. Shared secrets are
checked against ECDH computed here, with `cryptography` for the NIST curves and with plain
Python arithmetic for SM2 (which neither `cryptography` nor the OpenSSL 3.0 CLI can derive on).

HMACs cannot be recomputed here: that needs the key material, and only ImportKeyMaterial (a later
issue) lets a caller know it. The unit tests check Trent's HMACs against RFC 4231's vectors."""
import base64
import secrets

import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from harness import error_of

HMAC_SPECS = [("HMAC_224", "HMAC_SHA_224", 28), ("HMAC_256", "HMAC_SHA_256", 32),
              ("HMAC_384", "HMAC_SHA_384", 48), ("HMAC_512", "HMAC_SHA_512", 64)]


def flip_bit(data, index, bit=0):
    changed = bytearray(data)
    changed[index] ^= 1 << bit
    return bytes(changed)


@pytest.fixture
def hmac_key(kms):
    def create(spec="HMAC_256"):
        return kms.create_key(KeySpec=spec, KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]
    return create


@pytest.mark.parametrize("spec,algorithm,length", HMAC_SPECS)
def test_generate_mac_then_verify_mac_round_trips(kms, hmac_key, spec, algorithm, length):
    key = hmac_key(spec)
    message = b"the message \x00\xff"
    made = kms.generate_mac(KeyId=key["KeyId"], MacAlgorithm=algorithm, Message=message)
    assert made["KeyId"] == key["Arn"]
    assert made["MacAlgorithm"] == algorithm
    assert len(made["Mac"]) == length

    checked = kms.verify_mac(KeyId=key["KeyId"], MacAlgorithm=algorithm, Message=message, Mac=made["Mac"])
    assert {k: checked[k] for k in ("KeyId", "MacValid", "MacAlgorithm")} == {
        "KeyId": key["Arn"], "MacValid": True, "MacAlgorithm": algorithm}

    again = kms.generate_mac(KeyId=key["Arn"], MacAlgorithm=algorithm, Message=message)["Mac"]
    assert again == made["Mac"]
    other = kms.generate_mac(KeyId=key["KeyId"], MacAlgorithm=algorithm, Message=message + b"!")["Mac"]
    assert other != made["Mac"]
    # A different key of the same spec gives a different MAC for the same message.
    assert kms.generate_mac(KeyId=hmac_key(spec)["KeyId"], MacAlgorithm=algorithm, Message=message)["Mac"] != made["Mac"]


def test_one_bit_changes_to_the_mac_or_the_message_are_invalid(kms, hmac_key):
    key_id = hmac_key("HMAC_512")["KeyId"]
    message = b"pay 100 to alice"
    mac = kms.generate_mac(KeyId=key_id, MacAlgorithm="HMAC_SHA_512", Message=message)["Mac"]

    def verify(msg, candidate):
        with pytest.raises(ClientError) as caught:
            kms.verify_mac(KeyId=key_id, MacAlgorithm="HMAC_SHA_512", Message=msg, Mac=candidate)
        assert error_of(caught)[0] == "KMSInvalidMacException"

    for index, bit in [(0, 0), (31, 7), (63, 3)]:
        verify(message, flip_bit(mac, index, bit))
    for index, bit in [(0, 0), (4, 5), (len(message) - 1, 7)]:
        verify(flip_bit(message, index, bit), mac)
    verify(message, mac[:-1])
    verify(message, mac + b"\x00")
    assert kms.verify_mac(KeyId=key_id, MacAlgorithm="HMAC_SHA_512", Message=message, Mac=mac)["MacValid"] is True


def test_an_algorithm_of_another_spec_is_refused(kms, hmac_key):
    key_id = hmac_key("HMAC_224")["KeyId"]
    with pytest.raises(ClientError) as caught:
        kms.generate_mac(KeyId=key_id, MacAlgorithm="HMAC_SHA_256", Message=b"m")
    assert error_of(caught) == (
        "InvalidKeyUsageException", "Algorithm HMAC_SHA_256 is incompatible with key spec HMAC_224.", 400)
    with pytest.raises(ClientError) as caught:
        kms.verify_mac(KeyId=key_id, MacAlgorithm="HMAC_SHA_512", Message=b"m", Mac=b"\x00" * 64)
    assert error_of(caught)[0] == "InvalidKeyUsageException"


def test_generate_mac_with_a_symmetric_encryption_key_is_invalid_key_usage(kms):
    key = kms.create_key()["KeyMetadata"]
    with pytest.raises(ClientError) as caught:
        kms.generate_mac(KeyId=key["KeyId"], MacAlgorithm="HMAC_SHA_256", Message=b"m")
    assert error_of(caught) == (
        "InvalidKeyUsageException",
        f"{key['Arn']} key usage is ENCRYPT_DECRYPT which is not valid for GenerateMac.", 400)


def test_a_disabled_hmac_key_is_refused_and_works_again_when_enabled(kms, hmac_key):
    key_id = hmac_key()["KeyId"]
    mac = kms.generate_mac(KeyId=key_id, MacAlgorithm="HMAC_SHA_256", Message=b"m")["Mac"]
    kms.disable_key(KeyId=key_id)
    with pytest.raises(ClientError) as caught:
        kms.generate_mac(KeyId=key_id, MacAlgorithm="HMAC_SHA_256", Message=b"m")
    assert error_of(caught)[0] == "DisabledException"
    with pytest.raises(ClientError) as caught:
        kms.verify_mac(KeyId=key_id, MacAlgorithm="HMAC_SHA_256", Message=b"m", Mac=mac)
    assert error_of(caught)[0] == "DisabledException"
    kms.enable_key(KeyId=key_id)
    assert kms.verify_mac(KeyId=key_id, MacAlgorithm="HMAC_SHA_256", Message=b"m", Mac=mac)["MacValid"] is True


def test_dry_run_checks_without_computing(kms, hmac_key):
    key_id = hmac_key()["KeyId"]
    with pytest.raises(ClientError) as caught:
        kms.generate_mac(KeyId=key_id, MacAlgorithm="HMAC_SHA_256", Message=b"m", DryRun=True)
    assert error_of(caught)[0] == "DryRunOperationException"
    # A dry run of VerifyMac answers the same for a wrong MAC: nothing is compared.
    with pytest.raises(ClientError) as caught:
        kms.verify_mac(KeyId=key_id, MacAlgorithm="HMAC_SHA_256", Message=b"m", Mac=b"\x00" * 32, DryRun=True)
    assert error_of(caught)[0] == "DryRunOperationException"
    with pytest.raises(ClientError) as caught:
        kms.generate_mac(KeyId=key_id, MacAlgorithm="HMAC_SHA_384", Message=b"m", DryRun=True)
    assert error_of(caught)[0] == "InvalidKeyUsageException"


def test_cli_generate_mac_output_verifies(aws, kms, hmac_key, tmp_path):
    key = hmac_key("HMAC_384")
    message = tmp_path / "message"
    message.write_bytes(b"from the aws cli\n")
    made = aws("generate-mac", "--key-id", key["KeyId"], "--mac-algorithm", "HMAC_SHA_384",
               "--message", f"fileb://{message}")
    assert made["KeyId"] == key["Arn"] and made["MacAlgorithm"] == "HMAC_SHA_384"
    mac = base64.b64decode(made["Mac"], validate=True)
    assert len(mac) == 48
    assert kms.verify_mac(KeyId=key["KeyId"], MacAlgorithm="HMAC_SHA_384", Message=message.read_bytes(),
                          Mac=mac)["MacValid"] is True


# --- DeriveSharedSecret ---------------------------------------------------------------------------

NIST_CURVES = [("ECC_NIST_P256", ec.SECP256R1, 32), ("ECC_NIST_P384", ec.SECP384R1, 48),
               ("ECC_NIST_P521", ec.SECP521R1, 66)]


def spki_of(private_key):
    return private_key.public_key().public_bytes(serialization.Encoding.DER,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo)


@pytest.fixture
def agreement_key(kms):
    def create(spec):
        return kms.create_key(KeySpec=spec, KeyUsage="KEY_AGREEMENT")["KeyMetadata"]
    return create


@pytest.mark.parametrize("spec,curve,length", NIST_CURVES)
def test_derive_shared_secret_is_the_raw_ecdh_secret_on_nist_curves(kms, agreement_key, spec, curve, length):
    key = agreement_key(spec)
    peer = ec.generate_private_key(curve())
    answer = kms.derive_shared_secret(KeyId=key["KeyId"], KeyAgreementAlgorithm="ECDH", PublicKey=spki_of(peer))

    kms_public = serialization.load_der_public_key(kms.get_public_key(KeyId=key["KeyId"])["PublicKey"])
    expected = peer.exchange(ec.ECDH(), kms_public)
    assert len(expected) == length
    assert answer["SharedSecret"] == expected
    assert {k: answer[k] for k in ("KeyId", "KeyAgreementAlgorithm", "KeyOrigin")} == {
        "KeyId": key["Arn"], "KeyAgreementAlgorithm": "ECDH", "KeyOrigin": "AWS_KMS"}
    assert "CiphertextForRecipient" not in answer
    # Both sides agree when the roles swap: a second KMS key of the same curve as the peer.
    other = agreement_key(spec)
    other_public = kms.get_public_key(KeyId=other["KeyId"])["PublicKey"]
    kms_public_der = kms.get_public_key(KeyId=key["KeyId"])["PublicKey"]
    assert (kms.derive_shared_secret(KeyId=key["KeyId"], KeyAgreementAlgorithm="ECDH", PublicKey=other_public)
            ["SharedSecret"] ==
            kms.derive_shared_secret(KeyId=other["KeyId"], KeyAgreementAlgorithm="ECDH", PublicKey=kms_public_der)
            ["SharedSecret"])


# SM2 curve (GB/T 32918.5), checked against `openssl ecparam -name SM2 -param_enc explicit -text`.
SM2_P = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF
SM2_A = SM2_P - 3
SM2_B = 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93
SM2_N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
SM2_G = (0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7,
         0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0)
SM2_SPKI_PREFIX = bytes.fromhex("3059301306072a8648ce3d020106082a811ccf5501822d034200")


def sm2_add(p, q):
    if p is None:
        return q
    if q is None:
        return p
    if p[0] == q[0] and (p[1] + q[1]) % SM2_P == 0:
        return None
    if p == q:
        slope = (3 * p[0] * p[0] + SM2_A) * pow(2 * p[1], -1, SM2_P)
    else:
        slope = (q[1] - p[1]) * pow(q[0] - p[0], -1, SM2_P)
    x = (slope * slope - p[0] - q[0]) % SM2_P
    return x, (slope * (p[0] - x) - p[1]) % SM2_P


def sm2_multiply(k, point):
    result = None
    while k:
        if k & 1:
            result = sm2_add(result, point)
        point = sm2_add(point, point)
        k >>= 1
    return result


def sm2_on_curve(point):
    x, y = point
    return (y * y - (x * x * x + SM2_A * x + SM2_B)) % SM2_P == 0


def test_the_python_sm2_arithmetic_is_the_sm2_group():
    assert sm2_on_curve(SM2_G)
    assert sm2_multiply(SM2_N, SM2_G) is None
    assert sm2_on_curve(sm2_multiply(12345, SM2_G))


def test_derive_shared_secret_is_the_raw_ecdh_secret_on_sm2(kms, agreement_key):
    key = agreement_key("SM2")
    kms_spki = kms.get_public_key(KeyId=key["KeyId"])["PublicKey"]
    assert kms_spki[:len(SM2_SPKI_PREFIX)] == SM2_SPKI_PREFIX
    kms_point = (int.from_bytes(kms_spki[-64:-32], "big"), int.from_bytes(kms_spki[-32:], "big"))
    assert sm2_on_curve(kms_point)

    d = secrets.randbelow(SM2_N - 1) + 1
    qx, qy = sm2_multiply(d, SM2_G)
    peer_spki = SM2_SPKI_PREFIX + b"\x04" + qx.to_bytes(32, "big") + qy.to_bytes(32, "big")
    answer = kms.derive_shared_secret(KeyId=key["KeyId"], KeyAgreementAlgorithm="ECDH", PublicKey=peer_spki)

    expected = sm2_multiply(d, kms_point)[0].to_bytes(32, "big")
    assert answer["SharedSecret"] == expected
    assert answer["KeyAgreementAlgorithm"] == "ECDH" and answer["KeyId"] == key["Arn"]


def test_a_peer_key_on_another_curve_is_a_validation_error(kms, agreement_key):
    key_id = agreement_key("ECC_NIST_P256")["KeyId"]
    for curve, name in [(ec.SECP384R1, "P-384"), (ec.SECP256K1, "secp256k1")]:
        with pytest.raises(ClientError) as caught:
            kms.derive_shared_secret(KeyId=key_id, KeyAgreementAlgorithm="ECDH",
                                     PublicKey=spki_of(ec.generate_private_key(curve())))
        assert error_of(caught) == (
            "ValidationException", f"The public key is on curve {name}; the KMS key is on curve P-256.", 400)
    sm2_key_id = agreement_key("SM2")["KeyId"]
    with pytest.raises(ClientError) as caught:
        kms.derive_shared_secret(KeyId=sm2_key_id, KeyAgreementAlgorithm="ECDH",
                                 PublicKey=spki_of(ec.generate_private_key(ec.SECP256R1())))
    assert error_of(caught)[:2] == (
        "ValidationException", "The public key is on curve P-256; the KMS key is on curve SM2.")


def test_a_public_key_that_is_not_der_spki_is_a_validation_error(kms, agreement_key):
    key_id = agreement_key("ECC_NIST_P384")["KeyId"]
    good = spki_of(ec.generate_private_key(ec.SECP384R1()))
    pem = ec.generate_private_key(ec.SECP384R1()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    for garbage in [b"not a key", pem, good[:-1], good + b"\x00", flip_bit(good, len(good) - 1)]:
        with pytest.raises(ClientError) as caught:
            kms.derive_shared_secret(KeyId=key_id, KeyAgreementAlgorithm="ECDH", PublicKey=garbage)
        assert error_of(caught) == (
            "ValidationException", "The public key is not a DER-encoded SubjectPublicKeyInfo.", 400), garbage


def test_derive_shared_secret_with_a_signing_key_is_invalid_key_usage(kms):
    key = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    with pytest.raises(ClientError) as caught:
        kms.derive_shared_secret(KeyId=key["KeyId"], KeyAgreementAlgorithm="ECDH",
                                 PublicKey=spki_of(ec.generate_private_key(ec.SECP256R1())))
    assert error_of(caught) == (
        "InvalidKeyUsageException",
        f"{key['Arn']} key usage is SIGN_VERIFY which is not valid for DeriveSharedSecret.", 400)


def test_derive_shared_secret_dry_run_checks_the_public_key_first(kms, agreement_key):
    key_id = agreement_key("ECC_NIST_P521")["KeyId"]
    peer = spki_of(ec.generate_private_key(ec.SECP521R1()))
    with pytest.raises(ClientError) as caught:
        kms.derive_shared_secret(KeyId=key_id, KeyAgreementAlgorithm="ECDH", PublicKey=peer, DryRun=True)
    assert error_of(caught)[0] == "DryRunOperationException"
    with pytest.raises(ClientError) as caught:
        kms.derive_shared_secret(KeyId=key_id, KeyAgreementAlgorithm="ECDH", PublicKey=b"junk", DryRun=True)
    assert error_of(caught)[0] == "ValidationException"


def test_cli_derive_shared_secret(aws, kms, agreement_key, tmp_path):
    key = agreement_key("ECC_NIST_P256")
    peer = ec.generate_private_key(ec.SECP256R1())
    public = tmp_path / "peer.der"
    public.write_bytes(spki_of(peer))
    answer = aws("derive-shared-secret", "--key-id", key["KeyId"], "--key-agreement-algorithm", "ECDH",
                 "--public-key", f"fileb://{public}")
    kms_public = serialization.load_der_public_key(kms.get_public_key(KeyId=key["KeyId"])["PublicKey"])
    assert base64.b64decode(answer["SharedSecret"]) == peer.exchange(ec.ECDH(), kms_public)
    assert answer["KeyOrigin"] == "AWS_KMS"
