"""Sign and Verify for every signing key spec, algorithm and message type, through boto3 and the AWS CLI.
Trent's signatures are checked with tools that share no code with it: `cryptography` for RSA, ECDSA
and Ed25519, the `openssl` CLI for SM2DSA, and the RFC 8032 verifier below for Ed25519ph (neither
`cryptography` nor OpenSSL 3.0 has Ed25519ph). Nothing here has ML-DSA, so ML-DSA signatures are
checked against the FIPS 204 μ computed here from the published public key, and by Trent's Verify."""
import base64
import hashlib
import subprocess

import pytest
from botocore.exceptions import ClientError
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, utils

from harness import error_of

MESSAGE = b"Trent signs this, and anyone can check it."
HASHES = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}

RSA_ALGORITHMS = [f"RSASSA_{scheme}_SHA_{bits}" for scheme in ("PKCS1_V1_5", "PSS") for bits in ("256", "384", "512")]
SIGNING = {
    **{spec: RSA_ALGORITHMS for spec in ("RSA_2048", "RSA_3072", "RSA_4096")},
    "ECC_NIST_P256": ["ECDSA_SHA_256"],
    "ECC_NIST_P384": ["ECDSA_SHA_384"],
    "ECC_NIST_P521": ["ECDSA_SHA_512"],
    "ECC_SECG_P256K1": ["ECDSA_SHA_256"],
    "ECC_NIST_EDWARDS25519": ["ED25519_SHA_512", "ED25519_PH_SHA_512"],
    "SM2": ["SM2DSA"],
    "ML_DSA_44": ["ML_DSA_SHAKE_256"],
    "ML_DSA_65": ["ML_DSA_SHAKE_256"],
    "ML_DSA_87": ["ML_DSA_SHAKE_256"],
}
MESSAGE_TYPES = {"ED25519_SHA_512": ["RAW"], "ED25519_PH_SHA_512": ["DIGEST"], "ML_DSA_SHAKE_256": ["RAW", "EXTERNAL_MU"]}
CASES = [(spec, algorithm, message_type) for spec, algorithms in SIGNING.items() for algorithm in algorithms
         for message_type in MESSAGE_TYPES.get(algorithm, ["RAW", "DIGEST"])]


@pytest.fixture(scope="module")
def signing_key(kms):
    """spec → (KeyMetadata, DER public key) of one SIGN_VERIFY key per spec, created on first use."""
    made = {}

    def get(spec):
        if spec not in made:
            metadata = kms.create_key(KeySpec=spec, KeyUsage="SIGN_VERIFY")["KeyMetadata"]
            public = kms.get_public_key(KeyId=metadata["KeyId"])
            assert set(public["SigningAlgorithms"]) == set(SIGNING[spec])
            made[spec] = (metadata, public["PublicKey"])
        return made[spec]
    return get


# --- Ed25519 and Ed25519ph verification after RFC 8032 §5.1.7, independent of Trent's libraries ---

_P = 2**255 - 19
_L = 2**252 + 27742317777372353535851937790883648493
_D = -121665 * pow(121666, _P - 2, _P) % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)


def _add(a, b):
    x1, y1, z1, t1 = a
    x2, y2, z2, t2 = b
    a_, b_ = (y1 - x1) * (y2 - x2) % _P, (y1 + x1) * (y2 + x2) % _P
    c_, d_ = t1 * 2 * _D * t2 % _P, z1 * 2 * z2 % _P
    e, f, g, h = b_ - a_, d_ - c_, d_ + c_, b_ + a_
    return e * f % _P, g * h % _P, f * g % _P, e * h % _P


def _multiply(scalar, point):
    result = (0, 1, 1, 0)
    while scalar:
        if scalar & 1:
            result = _add(result, point)
        point, scalar = _add(point, point), scalar >> 1
    return result


def _x_of(y, sign):
    if y >= _P:
        return None
    x2 = (y * y - 1) * pow(_D * y * y + 1, _P - 2, _P) % _P
    if x2 == 0:
        return None if sign else 0
    x = pow(x2, (_P + 3) // 8, _P)
    if (x * x - x2) % _P:
        x = x * _SQRT_M1 % _P
    if (x * x - x2) % _P:
        return None
    return _P - x if (x & 1) != sign else x


def _decode_point(encoded):
    y = int.from_bytes(encoded, "little")
    x = _x_of(y & ((1 << 255) - 1), y >> 255)
    return None if x is None else (x, y & ((1 << 255) - 1), 1, x * (y & ((1 << 255) - 1)) % _P)


_BASE = _decode_point((4 * pow(5, _P - 2, _P) % _P).to_bytes(32, "little"))


def ed25519_verifies(public_key, message, signature, prehash):
    """Ed25519 (prehash False) or Ed25519ph with an empty context (prehash True)."""
    if len(public_key) != 32 or len(signature) != 64:
        return False
    a, r = _decode_point(public_key), _decode_point(signature[:32])
    s = int.from_bytes(signature[32:], "little")
    if a is None or r is None or s >= _L:
        return False
    dom = b"SigEd25519 no Ed25519 collisions\x01\x00" if prehash else b""
    signed = hashlib.sha512(message).digest() if prehash else message
    k = int.from_bytes(hashlib.sha512(dom + signature[:32] + public_key + signed).digest(), "little") % _L
    left, right = _multiply(s, _BASE), _add(r, _multiply(k, a))
    return (left[0] * right[2] - right[0] * left[2]) % _P == 0 and (left[1] * right[2] - right[1] * left[2]) % _P == 0


def test_the_ed25519_verifier_here_passes_rfc_8032_and_cryptography():
    # RFC 8032 §7.3, Ed25519ph "abc".
    public = bytes.fromhex("ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf")
    signature = bytes.fromhex("98a70222f0b8121aa9d30f813d683f809e462b469c7ff87639499bb94e6dae41"
                              "31f85042463c2a355a2003d062adf5aaa10b8c61e636062aaad11c2a26083406")
    assert ed25519_verifies(public, b"abc", signature, prehash=True)
    assert not ed25519_verifies(public, b"abd", signature, prehash=True)
    assert not ed25519_verifies(public, b"abc", signature, prehash=False)
    private = ed25519.Ed25519PrivateKey.generate()
    raw = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert ed25519_verifies(raw, MESSAGE, private.sign(MESSAGE), prehash=False)
    assert not ed25519_verifies(raw, MESSAGE, private.sign(MESSAGE + b"!"), prehash=False)


# --- SM2 (GM/T 0003) helpers ---

SM2_DEFAULT_ID = b"1234567812345678"
SM2_CURVE = bytes.fromhex(  # a, b, xG, yG
    "FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC"
    "28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93"
    "32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7"
    "BC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0")


def sm3(data):
    return hashlib.new("sm3", data).digest()


def sm2_e(spki, message):
    """e = SM3(Z_A ‖ M), the digest a caller passes with MessageType DIGEST."""
    z = sm3(b"\x00\x80" + SM2_DEFAULT_ID + SM2_CURVE + spki[-64:])
    return sm3(z + message)


def openssl_sm2_verifies(tmp_path, spki, message, signature, distid="1234567812345678"):
    (tmp_path / "pub.der").write_bytes(spki)
    (tmp_path / "msg").write_bytes(message)
    (tmp_path / "sig").write_bytes(signature)
    result = subprocess.run(["openssl", "dgst", "-sm3", "-keyform", "DER", "-verify", str(tmp_path / "pub.der"), "-sigopt",
                             f"distid:{distid}", "-signature", str(tmp_path / "sig"), str(tmp_path / "msg")],
                            capture_output=True, text=True, timeout=30)
    return result.returncode == 0 and "Verified OK" in result.stdout


# --- ML-DSA (FIPS 204) ---

ML_DSA = {"ML_DSA_44": (1312, 2420, b"\x11"), "ML_DSA_65": (1952, 3309, b"\x12"), "ML_DSA_87": (2592, 4627, b"\x13")}


def ml_dsa_public_key(spec, spki):
    public_bytes, _, oid_last = ML_DSA[spec]
    # SEQUENCE { SEQUENCE { OID id-ml-dsa-* }, BIT STRING { 00, pk } }
    assert spki[4:17] == bytes.fromhex("300b06096086480165030403") + oid_last
    assert len(spki) == public_bytes + 22
    return spki[-public_bytes:]


def mu(public_key, message):
    """μ = SHAKE256(SHAKE256(pk, 64) ‖ 0x00 ‖ 0x00 ‖ M, 64): pure ML-DSA with an empty context."""
    tr = hashlib.shake_256(public_key).digest(64)
    return hashlib.shake_256(tr + b"\x00\x00" + message).digest(64)


# --- the signatures, checked locally ---

def message_for(spec, algorithm, message_type, spki):
    if message_type == "RAW":
        return MESSAGE
    if message_type == "EXTERNAL_MU":
        return mu(ml_dsa_public_key(spec, spki), MESSAGE)
    if algorithm == "SM2DSA":
        return sm2_e(spki, MESSAGE)
    bits = algorithm[-3:]
    return hashlib.new(f"sha{bits}", MESSAGE).digest()


def cryptography_scheme(algorithm, prehashed):
    """The arguments after (signature, data) of `cryptography`'s verify for an RSA or ECDSA algorithm."""
    hash_ = HASHES[algorithm[-3:]]()
    chosen = utils.Prehashed(hash_) if prehashed else hash_
    if algorithm.startswith("ECDSA"):
        return (ec.ECDSA(chosen),)
    if algorithm.startswith("RSASSA_PSS"):  # KMS's salt is as long as the digest
        return padding.PSS(mgf=padding.MGF1(HASHES[algorithm[-3:]]()), salt_length=hash_.digest_size), chosen
    return padding.PKCS1v15(), chosen


def check_locally(tmp_path, kms, key_id, spec, algorithm, message_type, spki, signed, signature):
    if algorithm.startswith(("RSASSA", "ECDSA")):
        public_key = serialization.load_der_public_key(spki)
        public_key.verify(signature, signed, *cryptography_scheme(algorithm, message_type == "DIGEST"))
        # A signature over a digest is the signature over the message the digest came from.
        public_key.verify(signature, MESSAGE, *cryptography_scheme(algorithm, False))
        with pytest.raises(InvalidSignature):
            public_key.verify(signature, MESSAGE + b"!", *cryptography_scheme(algorithm, False))
    elif algorithm == "ED25519_SHA_512":
        assert len(signature) == 64
        serialization.load_der_public_key(spki).verify(signature, MESSAGE)
        assert ed25519_verifies(spki[-32:], MESSAGE, signature, prehash=False)
    elif algorithm == "ED25519_PH_SHA_512":
        assert len(signature) == 64
        assert ed25519_verifies(spki[-32:], signed, signature, prehash=True)
        assert not ed25519_verifies(spki[-32:], MESSAGE, signature, prehash=True)
        with pytest.raises(InvalidSignature):  # it is not a pure Ed25519 signature of the digest
            serialization.load_der_public_key(spki).verify(signature, signed)
    elif algorithm == "SM2DSA":
        # Either way the signature is over SM3(Z ‖ M) with the default ID: OpenSSL checks it against M.
        assert openssl_sm2_verifies(tmp_path, spki, MESSAGE, signature)
        assert not openssl_sm2_verifies(tmp_path, spki, MESSAGE + b"!", signature)
        assert not openssl_sm2_verifies(tmp_path, spki, MESSAGE, signature, distid="1234567812345679")
    else:
        _, signature_bytes, _ = ML_DSA[spec]
        assert len(signature) == signature_bytes
        # Signing is deterministic: the signature over μ (computed here) is the one over the message.
        other_type = "RAW" if message_type == "EXTERNAL_MU" else "EXTERNAL_MU"
        other = kms.sign(KeyId=key_id, Message=message_for(spec, algorithm, other_type, spki),
                         MessageType=other_type, SigningAlgorithm=algorithm)["Signature"]
        assert other == signature


def flipped(data, index=-1):
    copy = bytearray(data)
    copy[index] ^= 0x01
    return bytes(copy)


@pytest.mark.parametrize("spec, algorithm, message_type", CASES, ids=["-".join(case) for case in CASES])
def test_a_signature_from_trent_verifies_independently_and_in_trent(kms, signing_key, tmp_path, spec, algorithm,
                                                                     message_type):
    metadata, spki = signing_key(spec)
    signed = message_for(spec, algorithm, message_type, spki)
    response = kms.sign(KeyId=metadata["KeyId"], Message=signed, MessageType=message_type, SigningAlgorithm=algorithm)
    assert (response["KeyId"], response["SigningAlgorithm"]) == (metadata["Arn"], algorithm)
    signature = response["Signature"]
    check_locally(tmp_path, kms, metadata["KeyId"], spec, algorithm, message_type, spki, signed, signature)

    verified = kms.verify(KeyId=metadata["KeyId"], Message=signed, MessageType=message_type, Signature=signature,
                          SigningAlgorithm=algorithm)
    assert {k: verified[k] for k in ("KeyId", "SignatureValid", "SigningAlgorithm")} == {
        "KeyId": metadata["Arn"], "SignatureValid": True, "SigningAlgorithm": algorithm}
    for bad_signature, bad_message in ((flipped(signature), signed), (flipped(signature, 10), signed),
                                       (signature, flipped(signed, 0))):
        with pytest.raises(ClientError) as caught:
            kms.verify(KeyId=metadata["KeyId"], Message=bad_message, MessageType=message_type,
                       Signature=bad_signature, SigningAlgorithm=algorithm)
        assert error_of(caught)[0] == "KMSInvalidSignatureException"


def test_pss_signatures_differ_each_time_but_pkcs1_v1_5_signatures_do_not(kms, signing_key):
    metadata, _ = signing_key("RSA_2048")
    def sign(algorithm):
        return kms.sign(KeyId=metadata["KeyId"], Message=MESSAGE, SigningAlgorithm=algorithm)["Signature"]
    assert sign("RSASSA_PSS_SHA_256") != sign("RSASSA_PSS_SHA_256")
    assert sign("RSASSA_PKCS1_V1_5_SHA_256") == sign("RSASSA_PKCS1_V1_5_SHA_256")


@pytest.mark.parametrize("signature", [b"\x00", b"\x30\x00", b"\xff" * 64, b"\x01" * 6144])
@pytest.mark.parametrize("spec", ["RSA_2048", "ECC_NIST_P256", "ECC_NIST_EDWARDS25519", "SM2", "ML_DSA_44"])
def test_malformed_signature_bytes_are_an_invalid_signature(kms, signing_key, spec, signature):
    metadata, _ = signing_key(spec)
    with pytest.raises(ClientError) as caught:
        kms.verify(KeyId=metadata["KeyId"], Message=MESSAGE, Signature=signature,
                   SigningAlgorithm=SIGNING[spec][0])
    assert error_of(caught)[0] == "KMSInvalidSignatureException"


def test_a_signature_by_another_key_of_the_same_spec_is_invalid(kms, signing_key):
    metadata, _ = signing_key("ECC_NIST_P256")
    other = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    signature = kms.sign(KeyId=other["KeyId"], Message=MESSAGE, SigningAlgorithm="ECDSA_SHA_256")["Signature"]
    with pytest.raises(ClientError) as caught:
        kms.verify(KeyId=metadata["KeyId"], Message=MESSAGE, Signature=signature, SigningAlgorithm="ECDSA_SHA_256")
    assert error_of(caught)[0] == "KMSInvalidSignatureException"


# --- refusals ---

def refused(call, **kwargs):
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    code, message, _ = error_of(caught)
    return code, message


@pytest.mark.parametrize("operation", ["sign", "verify"])
def test_a_key_without_sign_verify_usage_is_refused(kms, operation):
    for spec, usage in (("RSA_2048", "ENCRYPT_DECRYPT"), ("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT"),
                        ("HMAC_256", "GENERATE_VERIFY_MAC")):
        key = kms.create_key(KeySpec=spec, KeyUsage=usage)["KeyMetadata"]
        extra = {"Signature": b"\x01" * 256} if operation == "verify" else {}
        assert refused(getattr(kms, operation), KeyId=key["KeyId"], Message=MESSAGE,
                       SigningAlgorithm="RSASSA_PSS_SHA_256", **extra) == (
            "InvalidKeyUsageException",
            f"{key['Arn']} key usage is {usage} which is not valid for {operation.capitalize()}.")


@pytest.mark.parametrize("spec, algorithm", [("ECC_NIST_P256", "ECDSA_SHA_384"), ("RSA_2048", "ECDSA_SHA_256"),
                                             ("ECC_NIST_EDWARDS25519", "ECDSA_SHA_512"),
                                             ("ML_DSA_44", "ED25519_SHA_512"), ("SM2", "ECDSA_SHA_256")])
def test_an_algorithm_the_key_spec_does_not_offer_is_refused(kms, signing_key, spec, algorithm):
    metadata, _ = signing_key(spec)
    expected = ("InvalidKeyUsageException", f"Algorithm {algorithm} is incompatible with key spec {spec}.")
    assert refused(kms.sign, KeyId=metadata["KeyId"], Message=MESSAGE, SigningAlgorithm=algorithm) == expected
    assert refused(kms.verify, KeyId=metadata["KeyId"], Message=MESSAGE, Signature=b"\x01",
                   SigningAlgorithm=algorithm) == expected


MESSAGE_REFUSALS = [
    ("RSA_2048", "RSASSA_PSS_SHA_256", "DIGEST", 48, "Digest is invalid length for algorithm RSASSA_PSS_SHA_256."),
    ("RSA_2048", "RSASSA_PKCS1_V1_5_SHA_512", "DIGEST", 32,
     "Digest is invalid length for algorithm RSASSA_PKCS1_V1_5_SHA_512."),
    ("ECC_NIST_P384", "ECDSA_SHA_384", "DIGEST", 32, "Digest is invalid length for algorithm ECDSA_SHA_384."),
    ("ECC_SECG_P256K1", "ECDSA_SHA_256", "DIGEST", 31, "Digest is invalid length for algorithm ECDSA_SHA_256."),
    ("SM2", "SM2DSA", "DIGEST", 64, "Digest is invalid length for algorithm SM2DSA."),
    ("ECC_NIST_EDWARDS25519", "ED25519_SHA_512", "DIGEST", 64,
     "Message type DIGEST is incompatible with algorithm ED25519_SHA_512."),
    ("ECC_NIST_EDWARDS25519", "ED25519_PH_SHA_512", "RAW", 64,
     "Message type RAW is incompatible with algorithm ED25519_PH_SHA_512."),
    ("ECC_NIST_EDWARDS25519", "ED25519_PH_SHA_512", "DIGEST", 32,
     "Digest is invalid length for algorithm ED25519_PH_SHA_512."),
    ("ML_DSA_65", "ML_DSA_SHAKE_256", "DIGEST", 64, "Message type DIGEST is incompatible with key spec ML_DSA_65."),
    ("ML_DSA_44", "ML_DSA_SHAKE_256", "EXTERNAL_MU", 32, "Digest is invalid length for algorithm ML_DSA_SHAKE_256."),
    ("ECC_NIST_P256", "ECDSA_SHA_256", "EXTERNAL_MU", 64,
     "Message type EXTERNAL_MU is incompatible with algorithm ECDSA_SHA_256."),
]


@pytest.mark.parametrize("spec, algorithm, message_type, length, message", MESSAGE_REFUSALS,
                         ids=[f"{c[1]}-{c[2]}-{c[3]}" for c in MESSAGE_REFUSALS])
def test_a_message_type_or_digest_length_the_algorithm_does_not_take_is_refused(kms, signing_key, spec, algorithm,
                                                                                message_type, length, message):
    metadata, _ = signing_key(spec)
    request = {"KeyId": metadata["KeyId"], "Message": b"\x07" * length, "MessageType": message_type,
               "SigningAlgorithm": algorithm}
    assert refused(kms.sign, **request) == ("ValidationException", message)
    assert refused(kms.verify, Signature=b"\x01" * 64, **request) == ("ValidationException", message)


def test_a_disabled_key_neither_signs_nor_verifies(kms):
    key = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    signature = kms.sign(KeyId=key["KeyId"], Message=MESSAGE, SigningAlgorithm="ECDSA_SHA_256")["Signature"]
    kms.disable_key(KeyId=key["KeyId"])
    assert refused(kms.sign, KeyId=key["KeyId"], Message=MESSAGE, SigningAlgorithm="ECDSA_SHA_256")[0] == \
        "DisabledException"
    assert refused(kms.verify, KeyId=key["KeyId"], Message=MESSAGE, Signature=signature,
                   SigningAlgorithm="ECDSA_SHA_256")[0] == "DisabledException"
    kms.enable_key(KeyId=key["KeyId"])
    assert kms.verify(KeyId=key["KeyId"], Message=MESSAGE, Signature=signature,
                      SigningAlgorithm="ECDSA_SHA_256")["SignatureValid"] is True


def test_a_dry_run_checks_everything_and_then_stops(kms, signing_key):
    metadata, _ = signing_key("ECC_NIST_EDWARDS25519")
    assert refused(kms.sign, KeyId=metadata["KeyId"], Message=MESSAGE, SigningAlgorithm="ED25519_SHA_512",
                   DryRun=True)[0] == "DryRunOperationException"
    # A dry run with an invalid signature still stops before the signature is checked.
    assert refused(kms.verify, KeyId=metadata["KeyId"], Message=MESSAGE, Signature=b"\x01" * 64,
                   SigningAlgorithm="ED25519_SHA_512", DryRun=True)[0] == "DryRunOperationException"
    # The checks come first.
    assert refused(kms.sign, KeyId=metadata["KeyId"], Message=MESSAGE, SigningAlgorithm="ED25519_PH_SHA_512",
                   DryRun=True)[0] == "ValidationException"


def test_the_aws_cli_signs_and_verifies(aws, kms, signing_key, tmp_path):
    metadata, spki = signing_key("ECC_SECG_P256K1")
    (tmp_path / "message").write_bytes(MESSAGE)
    signed = aws("sign", "--key-id", metadata["KeyId"], "--message", f"fileb://{tmp_path / 'message'}",
                 "--message-type", "RAW", "--signing-algorithm", "ECDSA_SHA_256")
    assert (signed["KeyId"], signed["SigningAlgorithm"]) == (metadata["Arn"], "ECDSA_SHA_256")
    signature = base64.b64decode(signed["Signature"])
    serialization.load_der_public_key(spki).verify(signature, MESSAGE, ec.ECDSA(hashes.SHA256()))

    (tmp_path / "signature").write_bytes(signature)
    verified = aws("verify", "--key-id", metadata["KeyId"], "--message", f"fileb://{tmp_path / 'message'}",
                   "--signature", f"fileb://{tmp_path / 'signature'}", "--signing-algorithm", "ECDSA_SHA_256")
    assert verified == {"KeyId": metadata["Arn"], "SignatureValid": True, "SigningAlgorithm": "ECDSA_SHA_256"}

    (tmp_path / "signature").write_bytes(flipped(signature))
    result = aws("verify", "--key-id", metadata["KeyId"], "--message", f"fileb://{tmp_path / 'message'}",
                 "--signature", f"fileb://{tmp_path / 'signature'}", "--signing-algorithm", "ECDSA_SHA_256",
                 check=False)
    assert result.returncode != 0 and "KMSInvalidSignatureException" in result.stderr
