"""The bad-input corpus for the operations of asymmetric, HMAC and key-agreement keys: Sign, Verify,
GetPublicKey, GenerateMac, VerifyMac, DeriveSharedSecret, Encrypt/Decrypt/ReEncrypt with key pairs
and CreateKey for every KeySpec and KeyUsage. Whatever signature, digest, public key, ciphertext or
MAC arrives, Trent answers a 4xx AWS JSON error ({"__type", "message"}), never a 5xx or a hang, and
the next valid request of the same operation still works. Requests go through the raw SigV4
client, so the bytes are exactly the hostile ones."""
import base64
import functools
import hashlib
import json
import random
import subprocess

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, x25519

JSON_TYPE = "application/x-amz-json-1.1"
MESSAGE = b"hostile input for key types"
RNG = random.Random(9)

KMS_ERRORS = {
    "AccessDeniedException", "DisabledException", "IncorrectKeyException", "InvalidCiphertextException",
    "InvalidKeyUsageException", "KMSInvalidMacException", "KMSInvalidSignatureException",
    "KMSInvalidStateException", "NotFoundException", "SerializationException", "UnsupportedOperationException",
    "ValidationException", "InvalidGrantTokenException", "DryRunOperationException",
    "CustomKeyStoreNotFoundException", "CustomKeyStoreInvalidStateException", "LimitExceededException",
}
SIG_INVALID = {"KMSInvalidSignatureException"}
MAC_INVALID = {"KMSInvalidMacException"}
CT_INVALID = {"InvalidCiphertextException"}
VALIDATION = {"ValidationException"}
SERIALIZATION = {"SerializationException"}
USAGE = {"InvalidKeyUsageException"}


# -- DER and curve helpers -------------------------------------------------------------------

def der(tag, content):
    n = len(content)
    if n < 0x80:
        length = bytes([n])
    elif n < 0x100:
        length = bytes([0x81, n])
    else:
        length = bytes([0x82, n >> 8, n & 0xFF])
    return bytes([tag]) + length + content


def der_int(value):
    """A DER INTEGER, two's complement, minimal."""
    size = max(1, (value.bit_length() + 8) // 8) if value >= 0 else max(1, ((-value - 1).bit_length() + 8) // 8)
    return der(0x02, value.to_bytes(size, "big", signed=True))


def der_sig(r, s):
    return der(0x30, der_int(r) + der_int(s))


def der_children(data):
    """The elements of the outer SEQUENCE, each as (tag, content)."""
    def read(buf, pos):
        tag, length, pos = buf[pos], buf[pos + 1], pos + 2
        if length & 0x80:
            size = length & 0x7F
            length, pos = int.from_bytes(buf[pos:pos + size], "big"), pos + size
        return tag, buf[pos:pos + length], pos + length
    tag, body, _ = read(data, 0)
    assert tag == 0x30
    out, pos = [], 0
    while pos < len(body):
        tag, content, pos = read(body, pos)
        out.append((tag, content))
    return out


def b64(data):
    return base64.b64encode(data).decode()


def rand(n):
    return RNG.randbytes(n)


EC_PUBLIC_KEY = bytes.fromhex("2a8648ce3d0201")


class Curve:
    def __init__(self, oid, p, a, b, n, size):
        self.oid, self.p, self.a, self.b, self.n, self.size = bytes.fromhex(oid), p, a, b, n, size

    def rhs(self, x):
        return (pow(x, 3, self.p) + self.a * x + self.b) % self.p

    def on_curve(self, x, y):
        return (y * y - self.rhs(x)) % self.p == 0

    def x_without_point(self):
        """An x for which no y exists: a compressed point with it must be refused."""
        x = 5
        while pow(self.rhs(x), (self.p - 1) // 2, self.p) != self.p - 1:
            x += 1
        return x

    def spki(self, point, oid=None):
        algorithm = der(0x30, der(0x06, EC_PUBLIC_KEY) + der(0x06, self.oid if oid is None else oid))
        return der(0x30, algorithm + der(0x03, b"\x00" + point))

    def coord(self, v):
        return v.to_bytes(self.size, "big")


P256_P = 2**256 - 2**224 + 2**192 + 2**96 - 1
P384_P = 2**384 - 2**128 - 2**96 + 2**32 - 1
SM2_P = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF
CURVES = {
    "ECC_NIST_P256": Curve("2a8648ce3d030107", P256_P, -3,
                           0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B,
                           0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551, 32),
    "ECC_NIST_P384": Curve("2b81040022", P384_P, -3,
                           int("B3312FA7E23EE7E4988E056BE3F82D19181D9C6EFE8141120314088F5013875A"
                               "C656398D8A2ED19D2A85C8EDD3EC2AEF", 16),
                           int("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF"
                               "581A0DB248B0A77AECEC196ACCC52973", 16), 48),
    "ECC_NIST_P521": Curve("2b81040023", 2**521 - 1, -3,
                           int("0051953EB9618E1C9A1F929A21A0B68540EEA2DA725B99B315F3B8B489918EF1"
                               "09E156193951EC7E937B1652C0BD3BB1BF073573DF883D2C34F1EF451FD46B503F00", 16),
                           int("01ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
                               "fa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409", 16), 66),
    "ECC_SECG_P256K1": Curve("2b8104000a", 2**256 - 2**32 - 977, 0, 7,
                             0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141, 32),
    "SM2": Curve("2a811ccf5501822d", SM2_P, SM2_P - 3,
                 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93,
                 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123, 32),
}
ED25519_L = 2**252 + 27742317777372353535851937790883648493


# -- the keys and valid artefacts the cases start from -----------------------------------------

class Keys:
    """Creates each (spec, usage) key once, with the KMS answers the cases tamper with."""

    def __init__(self, kms):
        self.kms = kms

    @functools.cache
    def key(self, spec, usage):
        return self.kms.create_key(KeySpec=spec, KeyUsage=usage,
                                   Description=f"bad input {spec} {usage}")["KeyMetadata"]["KeyId"]

    def sym(self):
        return self.key("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT")

    @functools.cache
    def public_key(self, spec, usage):
        return self.kms.get_public_key(KeyId=self.key(spec, usage))["PublicKey"]

    def point(self, spec, usage="KEY_AGREEMENT"):
        """The key's own uncompressed point (on the curve, so only the rest can be wrong)."""
        return der_children(self.public_key(spec, usage))[1][1][1:]

    @functools.cache
    def signature(self, spec, algorithm, message=MESSAGE, message_type="RAW"):
        return self.kms.sign(KeyId=self.key(spec, "SIGN_VERIFY"), Message=message, MessageType=message_type,
                             SigningAlgorithm=algorithm)["Signature"]

    @functools.cache
    def ciphertext(self, spec, algorithm, plaintext=b"secret"):
        return self.kms.encrypt(KeyId=self.key(spec, "ENCRYPT_DECRYPT"), Plaintext=plaintext,
                                EncryptionAlgorithm=algorithm)["CiphertextBlob"]

    @functools.cache
    def mac(self, spec, algorithm):
        return self.kms.generate_mac(KeyId=self.key(spec, "GENERATE_VERIFY_MAC"), Message=MESSAGE,
                                     MacAlgorithm=algorithm)["Mac"]

    @functools.cache
    def modulus(self, spec, usage):
        return serialization.load_der_public_key(self.public_key(spec, usage)).public_numbers().n


@functools.cache
def foreign_spki(kind):
    """SubjectPublicKeyInfos made outside Trent."""
    if kind == "x25519":
        key = x25519.X25519PrivateKey.generate().public_key()
    elif kind == "ed25519":
        key = ed25519.Ed25519PrivateKey.generate().public_key()
    elif kind == "dsa":
        key = dsa.generate_private_key(1024).public_key()
    elif kind == "explicit-p256":
        pem = subprocess.run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-param_enc",
                              "explicit"], capture_output=True, check=True).stdout
        return subprocess.run(["openssl", "ec", "-pubout", "-outform", "DER", "-param_enc", "explicit"], input=pem,
                              capture_output=True, check=True).stdout
    else:
        key = ec.generate_private_key({"p256": ec.SECP256R1(), "p384": ec.SECP384R1(), "p521": ec.SECP521R1(),
                                       "k1": ec.SECP256K1()}[kind]).public_key()
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


# -- the corpus ---------------------------------------------------------------------------------

CASES = []


def case(case_id, operation, build, codes):
    CASES.append((case_id, operation, build, codes))


def verify_payload(spec, algorithm, signature, message=MESSAGE, message_type="RAW"):
    return lambda k: {"KeyId": k.key(spec, "SIGN_VERIFY"), "Message": b64(message), "MessageType": message_type,
                      "Signature": b64(signature(k) if callable(signature) else signature),
                      "SigningAlgorithm": algorithm}


SIGNERS = [
    ("RSA_2048", "RSASSA_PKCS1_V1_5_SHA_256"),
    ("RSA_2048", "RSASSA_PSS_SHA_512"),
    ("ECC_NIST_P256", "ECDSA_SHA_256"),
    ("ECC_NIST_P384", "ECDSA_SHA_384"),
    ("ECC_NIST_P521", "ECDSA_SHA_512"),
    ("ECC_SECG_P256K1", "ECDSA_SHA_256"),
    ("ECC_NIST_EDWARDS25519", "ED25519_SHA_512"),
    ("ECC_NIST_EDWARDS25519", "ED25519_PH_SHA_512"),
    ("ML_DSA_44", "ML_DSA_SHAKE_256"),
    ("ML_DSA_65", "ML_DSA_SHAKE_256"),
    ("ML_DSA_87", "ML_DSA_SHAKE_256"),
    ("SM2", "SM2DSA"),
]
# The message type Verify uses for each algorithm, and the exact DIGEST / EXTERNAL_MU length.
PH_DIGEST = hashlib.sha512(MESSAGE).digest()
DIGEST_BYTES = {"RSASSA_PKCS1_V1_5_SHA_256": 32, "RSASSA_PSS_SHA_512": 64, "ECDSA_SHA_256": 32,
                "ECDSA_SHA_384": 48, "ECDSA_SHA_512": 64, "ED25519_PH_SHA_512": 64, "SM2DSA": 32}
ML_DSA_SIG_BYTES = {"ML_DSA_44": 2420, "ML_DSA_65": 3309, "ML_DSA_87": 4627}


def flip(data, index=-1, bit=1):
    out = bytearray(data)
    out[index] ^= bit
    return bytes(out)


def deep_der(depth):
    return b"\x30\x80" * depth


def add_signature_cases():
    for spec, alg in SIGNERS:
        tag = f"{spec}-{alg}"
        message, mtype = (PH_DIGEST, "DIGEST") if alg == "ED25519_PH_SHA_512" else (MESSAGE, "RAW")

        def valid(k, spec=spec, alg=alg, message=message, mtype=mtype):
            return k.signature(spec, alg, message, mtype)

        def add(name, signature, spec=spec, alg=alg, message=message, mtype=mtype, tag=tag):
            case(f"verify-{tag}-{name}", "Verify", verify_payload(spec, alg, signature, message, mtype), SIG_INVALID)

        add("1-byte-00", b"\x00")
        add("1-byte-ff", b"\xff")
        add("6144-ff", b"\xff" * 6144)
        add("6144-zero", bytes(6144))
        add("6144-random", rand(6144))
        add("valid-plus-trailing-byte", lambda k, v=valid: v(k) + b"\x00")
        add("valid-minus-last-byte", lambda k, v=valid: v(k)[:-1])
        add("valid-with-a-flipped-bit", lambda k, v=valid: flip(v(k)))
        add("valid-doubled", lambda k, v=valid: (v(k) * 2)[:6144])
        add("for-another-message",
            lambda k, spec=spec, alg=alg, mtype=mtype: k.signature(
                spec, alg, hashlib.sha512(b"other").digest() if mtype == "DIGEST" else b"other", mtype))

        if spec.startswith("RSA"):
            add("k-minus-1-bytes", lambda k, v=valid: v(k)[1:])
            add("k-plus-1-bytes", lambda k, v=valid: b"\x00" + v(k))
            add("k-zero-bytes", bytes(256))
            add("k-ff-bytes", b"\xff" * 256)
            add("one", (1).to_bytes(256, "big"))
            add("modulus", lambda k, s=spec: k.modulus(s, "SIGN_VERIFY").to_bytes(256, "big"))
            add("modulus-minus-1", lambda k, s=spec: (k.modulus(s, "SIGN_VERIFY") - 1).to_bytes(256, "big"))
            other = "RSASSA_PSS_SHA_256" if "PKCS1" in alg else "RSASSA_PKCS1_V1_5_SHA_512"
            add("signature-of-the-other-padding", lambda k, s=spec, o=other: k.signature(s, o))
        if spec in CURVES:
            n = CURVES[spec].n

            def rs(k, v=valid):
                (_, r), (_, s) = der_children(v(k))
                return int.from_bytes(r, "big"), int.from_bytes(s, "big")
            add("der-huge-sequence-length", b"\x30\x84\xff\xff\xff\xff" + der_int(1) + der_int(1))
            add("der-2-byte-length-past-end", b"\x30\x82\xff\xf0" + der_int(1) + der_int(1))
            add("der-integer-huge-length", der(0x30, b"\x02\x84\x7f\xff\xff\xff\x01" + der_int(1)))
            add("der-indefinite-length", b"\x30\x80" + der_int(1) + der_int(1) + b"\x00\x00")
            add("der-deep-nesting", deep_der(3000))
            add("der-wrong-outer-tag", lambda k, v=valid: b"\x31" + v(k)[1:])
            add("der-one-integer", der(0x30, der_int(1)))
            add("der-three-integers", der(0x30, der_int(1) * 3))
            add("der-empty-sequence", b"\x30\x00")
            add("der-empty-integers", der(0x30, b"\x02\x00\x02\x00"))
            add("r-zero", lambda k, f=rs: der_sig(0, f(k)[1]))
            add("s-zero", lambda k, f=rs: der_sig(f(k)[0], 0))
            add("r-and-s-zero", der_sig(0, 0))
            add("r-negative", lambda k, f=rs: der_sig(-f(k)[0], f(k)[1]))
            add("s-negative", lambda k, f=rs: der_sig(f(k)[0], -f(k)[1]))
            add("r-minus-one", lambda k, f=rs: der_sig(-1, f(k)[1]))
            add("r-equals-order", lambda k, f=rs, n=n: der_sig(n, f(k)[1]))
            add("s-equals-order", lambda k, f=rs, n=n: der_sig(f(k)[0], n))
            add("r-plus-order", lambda k, f=rs, n=n: der_sig(f(k)[0] + n, f(k)[1]))
            add("s-plus-order", lambda k, f=rs, n=n: der_sig(f(k)[0], f(k)[1] + n))
            add("r-2-pow-4000", lambda k, f=rs: der_sig(2**4000, f(k)[1]))
            add("r-and-s-one", der_sig(1, 1))
            add("r-and-s-order-minus-one", der_sig(n - 1, n - 1))
            # SM2 verification computes t = r + s mod n and must refuse t = 0.
            add("r-plus-s-equals-order", lambda k, f=rs, n=n: der_sig(f(k)[0], n - f(k)[0]))
            add("non-minimal-integer", lambda k, f=rs: der(0x30, der(0x02, b"\x00\x00" + f(k)[0].to_bytes(
                (f(k)[0].bit_length() + 7) // 8, "big")) + der_int(f(k)[1])))
            add("long-form-short-length", lambda k, v=valid: b"\x30\x81" + v(k)[1:])
            add("valid-der-plus-trailing-sequence", lambda k, v=valid: v(k) + der_sig(1, 1))
            size = CURVES[spec].size
            add("raw-r-s-not-der", lambda k, f=rs, size=size: f(k)[0].to_bytes(size, "big") +
                f(k)[1].to_bytes(size, "big"))
        if spec == "ECC_NIST_EDWARDS25519":
            add("63-bytes", lambda k, v=valid: v(k)[:63])
            add("65-bytes", lambda k, v=valid: v(k) + b"\x00")
            add("64-zero-bytes", bytes(64))
            add("64-ff-bytes", b"\xff" * 64)
            add("s-plus-order", lambda k, v=valid: v(k)[:32] + (
                int.from_bytes(v(k)[32:], "little") + ED25519_L).to_bytes(32, "little"))
            add("s-equals-order", lambda k, v=valid: v(k)[:32] + ED25519_L.to_bytes(32, "little"))
            add("r-not-a-point", lambda k, v=valid: b"\xff" * 31 + b"\x7f" + v(k)[32:])
            other = "ED25519_SHA_512" if alg == "ED25519_PH_SHA_512" else "ED25519_PH_SHA_512"
            add("signature-of-the-other-algorithm",
                lambda k, o=other: k.signature("ECC_NIST_EDWARDS25519", o, *(
                    (PH_DIGEST, "DIGEST") if o == "ED25519_PH_SHA_512" else (MESSAGE, "RAW"))))
        if spec in ML_DSA_SIG_BYTES:
            size = ML_DSA_SIG_BYTES[spec]
            add("one-byte-short", lambda k, v=valid: v(k)[:-1])
            add("one-byte-long", lambda k, v=valid: v(k) + b"\x00")
            add("right-length-zero", bytes(size))
            add("right-length-ff", b"\xff" * size)
            add("right-length-random", rand(size))
            add("hints-all-ff", lambda k, v=valid: v(k)[:-90] + b"\xff" * 90)
            add("hints-all-zero", lambda k, v=valid: v(k)[:-90] + bytes(90))
            add("flipped-middle-byte", lambda k, v=valid, size=size: flip(v(k), size // 2, 0xFF))
            others = [s for s in ML_DSA_SIG_BYTES if s != spec]
            add("signature-of-another-level", lambda k, o=others[0]: k.signature(o, "ML_DSA_SHAKE_256"))
            case(f"verify-{tag}-external-mu-garbage", "Verify",
                 verify_payload(spec, alg, rand(size), bytes(64), "EXTERNAL_MU"), SIG_INVALID)
            case(f"verify-{tag}-external-mu-short-signature", "Verify",
                 verify_payload(spec, alg, b"\x01", bytes(64), "EXTERNAL_MU"), SIG_INVALID)


add_signature_cases()


def add_digest_cases():
    """DIGEST / EXTERNAL_MU messages of the wrong length, and message types an algorithm refuses."""
    for spec, alg in SIGNERS:
        tag = f"{spec}-{alg}"
        wants = DIGEST_BYTES.get(alg)
        lengths = [] if wants is None else [1, wants - 1, wants + 1, 4096]
        for n in lengths:
            for op in ("Sign", "Verify"):
                def build(k, spec=spec, alg=alg, n=n, op=op):
                    body = {"KeyId": k.key(spec, "SIGN_VERIFY"), "Message": b64(b"\x11" * n), "MessageType": "DIGEST",
                            "SigningAlgorithm": alg}
                    return body if op == "Sign" else {**body, "Signature": b64(b"\x30\x00")}
                case(f"{op.lower()}-{tag}-digest-{n}-bytes", op, build, VALIDATION)
        refused = {"ECC_NIST_EDWARDS25519": ["DIGEST", "EXTERNAL_MU"] if alg == "ED25519_SHA_512" else
                   ["RAW", "EXTERNAL_MU"]}.get(spec, ["DIGEST"] if spec in ML_DSA_SIG_BYTES else ["EXTERNAL_MU"])
        for mtype in refused:
            for op in ("Sign", "Verify"):
                def build(k, spec=spec, alg=alg, mtype=mtype, op=op):
                    body = {"KeyId": k.key(spec, "SIGN_VERIFY"), "Message": b64(bytes(64)), "MessageType": mtype,
                            "SigningAlgorithm": alg}
                    return body if op == "Sign" else {**body, "Signature": b64(bytes(64))}
                case(f"{op.lower()}-{tag}-message-type-{mtype}", op, build, VALIDATION)
        if spec in ML_DSA_SIG_BYTES:
            for n in (1, 32, 63, 65, 4096):
                for op in ("Sign", "Verify"):
                    def build(k, spec=spec, n=n, op=op):
                        body = {"KeyId": k.key(spec, "SIGN_VERIFY"), "Message": b64(bytes(n)),
                                "MessageType": "EXTERNAL_MU", "SigningAlgorithm": "ML_DSA_SHAKE_256"}
                        return body if op == "Sign" else {**body, "Signature": b64(bytes(10))}
                    case(f"{op.lower()}-{spec}-external-mu-{n}-bytes", op, build, VALIDATION)


add_digest_cases()


def p256_sign(**members):
    def build(k):
        body = {"KeyId": k.key("ECC_NIST_P256", "SIGN_VERIFY"), "Message": b64(MESSAGE),
                "SigningAlgorithm": "ECDSA_SHA_256"}
        body.update(members)
        return {name: value for name, value in body.items() if value is not OMIT}
    return build


def p256_verify(**members):
    def build(k):
        body = {"KeyId": k.key("ECC_NIST_P256", "SIGN_VERIFY"), "Message": b64(MESSAGE),
                "SigningAlgorithm": "ECDSA_SHA_256", "Signature": b64(k.signature("ECC_NIST_P256", "ECDSA_SHA_256"))}
        body.update(members)
        return {name: value for name, value in body.items() if value is not OMIT}
    return build


OMIT = object()

# -- wrong JSON types and values for the new members
case("sign-message-as-number", "Sign", p256_sign(Message=42), SERIALIZATION)
case("sign-message-as-object", "Sign", p256_sign(Message={"a": 1}), SERIALIZATION)
case("sign-message-as-list", "Sign", p256_sign(Message=["eA=="]), SERIALIZATION)
case("sign-message-not-base64", "Sign", p256_sign(Message="not base64!"), SERIALIZATION)
case("sign-message-bad-padding", "Sign", p256_sign(Message="QUJD="), SERIALIZATION)
case("sign-message-missing", "Sign", p256_sign(Message=OMIT), VALIDATION)
case("sign-message-null", "Sign", p256_sign(Message=None), VALIDATION)
case("sign-message-4097-bytes", "Sign", p256_sign(Message=b64(bytes(4097))), VALIDATION)
case("sign-message-type-unknown", "Sign", p256_sign(MessageType="HASH"), VALIDATION)
case("sign-message-type-lowercase", "Sign", p256_sign(MessageType="raw"), VALIDATION)
case("sign-message-type-empty", "Sign", p256_sign(MessageType=""), VALIDATION)
case("sign-message-type-number", "Sign", p256_sign(MessageType=1), SERIALIZATION)
case("sign-algorithm-null", "Sign", p256_sign(SigningAlgorithm=None), VALIDATION)
case("sign-algorithm-missing", "Sign", p256_sign(SigningAlgorithm=OMIT), VALIDATION)
case("sign-algorithm-empty", "Sign", p256_sign(SigningAlgorithm=""), VALIDATION)
case("sign-algorithm-unknown", "Sign", p256_sign(SigningAlgorithm="ECDSA_SHA_1"), VALIDATION)
case("sign-algorithm-as-list", "Sign", p256_sign(SigningAlgorithm=["ECDSA_SHA_256"]), SERIALIZATION)
case("sign-algorithm-proto", "Sign", p256_sign(SigningAlgorithm="__proto__"), VALIDATION)
case("sign-algorithm-of-another-curve", "Sign", p256_sign(SigningAlgorithm="ECDSA_SHA_384"), USAGE)
case("sign-algorithm-ed25519-on-p256", "Sign", p256_sign(SigningAlgorithm="ED25519_SHA_512"), USAGE)
case("sign-algorithm-ml-dsa-on-p256", "Sign", p256_sign(SigningAlgorithm="ML_DSA_SHAKE_256"), USAGE)
case("sign-dry-run-as-string", "Sign", p256_sign(DryRun="yes"), SERIALIZATION)
case("sign-grant-tokens-object", "Sign", p256_sign(GrantTokens={"a": "b"}), SERIALIZATION)
case("verify-signature-not-base64", "Verify", p256_verify(Signature="%%%"), SERIALIZATION)
case("verify-signature-as-number", "Verify", p256_verify(Signature=12), SERIALIZATION)
case("verify-signature-missing", "Verify", p256_verify(Signature=OMIT), VALIDATION)
case("verify-signature-null", "Verify", p256_verify(Signature=None), VALIDATION)
case("verify-signature-empty", "Verify", p256_verify(Signature=""), VALIDATION)
case("verify-signature-6145-bytes", "Verify", p256_verify(Signature=b64(bytes(6145))), VALIDATION)
case("verify-message-not-base64", "Verify", p256_verify(Message="*"), SERIALIZATION)
case("verify-message-type-unknown", "Verify", p256_verify(MessageType="PREHASHED"), VALIDATION)
case("verify-algorithm-null", "Verify", p256_verify(SigningAlgorithm=None), VALIDATION)
case("verify-algorithm-rsa-on-p256", "Verify", p256_verify(SigningAlgorithm="RSASSA_PSS_SHA_256"), USAGE)
case("verify-message-4097-bytes", "Verify", p256_verify(Message=b64(bytes(4097))), VALIDATION)

# -- keys of the wrong kind for the operation
for spec, usage in [("HMAC_256", "GENERATE_VERIFY_MAC"), ("RSA_2048", "ENCRYPT_DECRYPT"),
                    ("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT"), ("ECC_NIST_P256", "KEY_AGREEMENT")]:
    case(f"sign-with-{spec}-{usage}", "Sign", lambda k, s=spec, u=usage: {
        "KeyId": k.key(s, u), "Message": b64(MESSAGE), "SigningAlgorithm": "ECDSA_SHA_256"}, USAGE)
    case(f"verify-with-{spec}-{usage}", "Verify", lambda k, s=spec, u=usage: {
        "KeyId": k.key(s, u), "Message": b64(MESSAGE), "SigningAlgorithm": "ECDSA_SHA_256",
        "Signature": b64(b"\x30\x00")}, USAGE)
for spec, usage in [("ECC_NIST_P256", "SIGN_VERIFY"), ("RSA_2048", "ENCRYPT_DECRYPT"),
                    ("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT"), ("ML_DSA_44", "SIGN_VERIFY")]:
    case(f"generate-mac-with-{spec}-{usage}", "GenerateMac", lambda k, s=spec, u=usage: {
        "KeyId": k.key(s, u), "Message": b64(MESSAGE), "MacAlgorithm": "HMAC_SHA_256"}, USAGE)
    case(f"verify-mac-with-{spec}-{usage}", "VerifyMac", lambda k, s=spec, u=usage: {
        "KeyId": k.key(s, u), "Message": b64(MESSAGE), "MacAlgorithm": "HMAC_SHA_256", "Mac": b64(bytes(32))}, USAGE)
for spec, usage in [("ECC_NIST_P256", "SIGN_VERIFY"), ("HMAC_256", "GENERATE_VERIFY_MAC"),
                    ("SM2", "ENCRYPT_DECRYPT"), ("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT"),
                    ("ECC_NIST_EDWARDS25519", "SIGN_VERIFY")]:
    case(f"derive-with-{spec}-{usage}", "DeriveSharedSecret", lambda k, s=spec, u=usage: {
        "KeyId": k.key(s, u), "KeyAgreementAlgorithm": "ECDH", "PublicKey": b64(foreign_spki("p256"))}, USAGE)
for spec, usage in [("HMAC_256", "GENERATE_VERIFY_MAC"), ("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT")]:
    case(f"get-public-key-of-{spec}", "GetPublicKey", lambda k, s=spec, u=usage: {"KeyId": k.key(s, u)},
         {"UnsupportedOperationException"})
case("get-public-key-key-id-number", "GetPublicKey", lambda k: {"KeyId": 1}, SERIALIZATION)
case("get-public-key-key-id-missing", "GetPublicKey", lambda k: {}, VALIDATION)
case("get-public-key-grant-tokens-11", "GetPublicKey", lambda k: {
    "KeyId": k.key("ECC_NIST_P256", "SIGN_VERIFY"), "GrantTokens": ["t"] * 11}, VALIDATION)


# -- GenerateMac / VerifyMac
HMACS = [("HMAC_224", "HMAC_SHA_224", 28), ("HMAC_256", "HMAC_SHA_256", 32), ("HMAC_384", "HMAC_SHA_384", 48),
         ("HMAC_512", "HMAC_SHA_512", 64)]
for spec, alg, size in HMACS:
    def verify_mac(mac, spec=spec, alg=alg):
        return lambda k: {"KeyId": k.key(spec, "GENERATE_VERIFY_MAC"), "Message": b64(MESSAGE), "MacAlgorithm": alg,
                          "Mac": b64(mac(k) if callable(mac) else mac)}
    valid = functools.partial(lambda k, spec, alg: k.mac(spec, alg), spec=spec, alg=alg)
    for name, mac in [("1-byte", b"\x00"), ("6144-bytes", b"\xff" * 6144), ("one-short", bytes(size - 1)),
                      ("one-long", bytes(size + 1)), ("right-length-zero", bytes(size)),
                      ("valid-truncated-to-16", lambda k, v=valid: v(k)[:16]),
                      ("valid-plus-one-byte", lambda k, v=valid: v(k) + b"\x00"),
                      ("valid-flipped", lambda k, v=valid: flip(v(k), 0)),
                      ("valid-twice", lambda k, v=valid: v(k) * 2)]:
        case(f"verify-mac-{spec}-{name}", "VerifyMac", verify_mac(mac), MAC_INVALID)
    case(f"verify-mac-{spec}-6145-bytes", "VerifyMac", verify_mac(bytes(6145)), VALIDATION)
    other = "HMAC_SHA_512" if alg != "HMAC_SHA_512" else "HMAC_SHA_224"
    case(f"generate-mac-{spec}-with-{other}", "GenerateMac", lambda k, s=spec, o=other: {
        "KeyId": k.key(s, "GENERATE_VERIFY_MAC"), "Message": b64(MESSAGE), "MacAlgorithm": o}, USAGE)


def hmac_body(**members):
    def build(k):
        body = {"KeyId": k.key("HMAC_256", "GENERATE_VERIFY_MAC"), "Message": b64(MESSAGE),
                "MacAlgorithm": "HMAC_SHA_256"}
        body.update(members)
        return {name: value for name, value in body.items() if value is not OMIT}
    return build


case("generate-mac-message-4097-bytes", "GenerateMac", hmac_body(Message=b64(bytes(4097))), VALIDATION)
case("generate-mac-message-as-number", "GenerateMac", hmac_body(Message=5), SERIALIZATION)
case("generate-mac-message-not-base64", "GenerateMac", hmac_body(Message="@@@@"), SERIALIZATION)
case("generate-mac-algorithm-unknown", "GenerateMac", hmac_body(MacAlgorithm="HMAC_SHA_1"), VALIDATION)
case("generate-mac-algorithm-null", "GenerateMac", hmac_body(MacAlgorithm=None), VALIDATION)
case("generate-mac-algorithm-number", "GenerateMac", hmac_body(MacAlgorithm=256), SERIALIZATION)
case("verify-mac-mac-missing", "VerifyMac", hmac_body(), VALIDATION)
case("verify-mac-mac-null", "VerifyMac", hmac_body(Mac=None), VALIDATION)
case("verify-mac-mac-not-base64", "VerifyMac", hmac_body(Mac="!!"), SERIALIZATION)
case("verify-mac-mac-as-list", "VerifyMac", hmac_body(Mac=[1, 2]), SERIALIZATION)
case("verify-mac-mac-empty", "VerifyMac", hmac_body(Mac=""), VALIDATION)


# -- DeriveSharedSecret: public keys of every wrong shape
AGREEMENT_SPECS = ["ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521", "SM2"]


def derive(spec, public_key, algorithm="ECDH"):
    return lambda k: {"KeyId": k.key(spec, "KEY_AGREEMENT"), "KeyAgreementAlgorithm": algorithm,
                      "PublicKey": b64(public_key(k) if callable(public_key) else public_key)}


def own_spki(spec):
    return lambda k: k.public_key(spec, "KEY_AGREEMENT")


for spec in AGREEMENT_SPECS:
    c = CURVES[spec]
    size = c.size
    point = functools.partial(lambda k, spec: k.point(spec), spec=spec)

    def off_curve(k, c=c, point=point, size=size):
        p = point(k)
        x, y = int.from_bytes(p[1:1 + size], "big"), int.from_bytes(p[1 + size:], "big")
        assert c.on_curve(x, y)  # the curve constants are right, so the tampered point really is off it
        return c.spki(b"\x04" + c.coord(x) + c.coord((y + 1) % c.p))

    shapes = [
        ("own-spki-truncated-by-1", lambda k, s=spec: own_spki(s)(k)[:-1]),
        ("own-spki-truncated-to-half", lambda k, s=spec: own_spki(s)(k)[:len(own_spki(s)(k)) // 2]),
        ("own-spki-plus-trailing-byte", lambda k, s=spec: own_spki(s)(k) + b"\x00"),
        ("own-spki-unused-bits-1", lambda k, s=spec: flip(own_spki(s)(k), -(2 * size + 2), 0x01)),
        ("rsa-spki", lambda k: k.public_key("RSA_2048", "SIGN_VERIFY")),
        ("ml-dsa-spki", lambda k: k.public_key("ML_DSA_44", "SIGN_VERIFY")),
        ("ed25519-spki", lambda k: foreign_spki("ed25519")),
        ("x25519-spki", lambda k: foreign_spki("x25519")),
        ("dsa-spki", lambda k: foreign_spki("dsa")),
        ("secp256k1-spki", lambda k: foreign_spki("k1")),
        ("explicit-curve-parameters-spki", lambda k: foreign_spki("explicit-p256")),
        ("point-at-infinity-00", c.spki(b"\x00")),
        ("empty-point", c.spki(b"")),
        ("point-04-only", c.spki(b"\x04")),
        ("point-all-zero", c.spki(b"\x04" + bytes(2 * size))),
        ("compressed-x-without-point", c.spki(b"\x02" + c.coord(c.x_without_point()))),
        ("compressed-x-equals-p", c.spki(b"\x03" + c.coord(c.p))),
        ("uncompressed-x-ff", c.spki(b"\x04" + b"\xff" * size + b"\x01" * size)),
        ("point-not-on-curve", off_curve),
        # X9.62's hybrid form (06/07 with y's parity), which RFC 5480 says to reject even for a valid point.
        ("hybrid-form", lambda k, c=c, point=point: c.spki(bytes([0x06 | point(k)[-1] & 1]) + point(k)[1:])),
        ("hybrid-form-wrong-parity",
         lambda k, c=c, point=point: c.spki(bytes([0x07 ^ point(k)[-1] & 1]) + point(k)[1:])),
        ("compressed-with-04-prefix", lambda k, c=c, point=point, size=size: c.spki(b"\x04" + point(k)[1:1 + size])),
        ("uncompressed-with-02-prefix", lambda k, c=c, point=point: c.spki(b"\x02" + point(k)[1:])),
        ("uncompressed-one-byte-short", lambda k, c=c, point=point: c.spki(point(k)[:-1])),
        ("uncompressed-one-byte-long", lambda k, c=c, point=point: c.spki(point(k) + b"\x00")),
        ("raw-point-not-spki", point),
        ("ec-oid-with-null-parameters", lambda k, c=c, point=point: der(0x30, der(0x30, der(
            0x06, EC_PUBLIC_KEY) + b"\x05\x00") + der(0x03, b"\x00" + point(k)))),
        ("ec-oid-with-unknown-curve", lambda k, c=c, point=point: c.spki(point(k), oid=bytes.fromhex("2a030405"))),
        ("der-huge-length", b"\x30\x84\xff\xff\xff\xff" + bytes(64)),
        ("der-indefinite-length", b"\x30\x80" + bytes(64) + b"\x00\x00"),
        ("der-deep-nesting", deep_der(4000)),
        ("1-byte", b"\x30"),
        ("8192-random-bytes", rand(8192)),
        ("8192-bytes-of-spki-shape", c.spki(b"\x04" + bytes(8192 - 30))[:8192]),
    ]
    for other in AGREEMENT_SPECS:
        if other != spec:
            shapes.append((f"spki-of-{other}", own_spki(other)))
    for name, public_key in shapes:
        case(f"derive-{spec}-{name}", "DeriveSharedSecret", derive(spec, public_key), VALIDATION)

case("derive-public-key-8193-bytes", "DeriveSharedSecret", derive("ECC_NIST_P256", bytes(8193)), VALIDATION)
case("derive-public-key-not-base64", "DeriveSharedSecret", lambda k: {
    "KeyId": k.key("ECC_NIST_P256", "KEY_AGREEMENT"), "KeyAgreementAlgorithm": "ECDH", "PublicKey": "?"},
    SERIALIZATION)
case("derive-public-key-missing", "DeriveSharedSecret", lambda k: {
    "KeyId": k.key("ECC_NIST_P256", "KEY_AGREEMENT"), "KeyAgreementAlgorithm": "ECDH"}, VALIDATION)
case("derive-public-key-empty", "DeriveSharedSecret", derive("ECC_NIST_P256", b""), VALIDATION)
case("derive-algorithm-x", "DeriveSharedSecret", derive("ECC_NIST_P256", foreign_spki("p256"), "X"), VALIDATION)
case("derive-algorithm-null", "DeriveSharedSecret", derive("ECC_NIST_P256", foreign_spki("p256"), None),
     VALIDATION)
case("derive-algorithm-number", "DeriveSharedSecret", derive("ECC_NIST_P256", foreign_spki("p256"), 1),
     SERIALIZATION)
case("derive-algorithm-lowercase", "DeriveSharedSecret", derive("ECC_NIST_P256", foreign_spki("p256"), "ecdh"),
     VALIDATION)
case("derive-recipient-garbage", "DeriveSharedSecret", lambda k: {
    **derive("ECC_NIST_P256", foreign_spki("p256"))(k),
    "Recipient": {"KeyEncryptionAlgorithm": "RSAES_OAEP_SHA_256", "AttestationDocument": b64(rand(100))}}, None)
case("derive-recipient-as-string", "DeriveSharedSecret", lambda k: {
    **derive("ECC_NIST_P256", foreign_spki("p256"))(k), "Recipient": "me"}, SERIALIZATION)
case("derive-recipient-unknown-algorithm", "DeriveSharedSecret", lambda k: {
    **derive("ECC_NIST_P256", foreign_spki("p256"))(k), "Recipient": {"KeyEncryptionAlgorithm": "RSA"}},
    VALIDATION)


# -- asymmetric Encrypt / Decrypt / ReEncrypt
RSA_K = 256


def decrypt(spec, algorithm, ciphertext, key_id=True):
    def build(k):
        body = {"CiphertextBlob": b64(ciphertext(k) if callable(ciphertext) else ciphertext),
                "EncryptionAlgorithm": algorithm}
        if key_id:
            body["KeyId"] = k.key(spec, "ENCRYPT_DECRYPT")
        return body
    return build


def re_encrypt(spec, algorithm, ciphertext):
    return lambda k: {"CiphertextBlob": b64(ciphertext(k) if callable(ciphertext) else ciphertext),
                      "SourceKeyId": k.key(spec, "ENCRYPT_DECRYPT"), "SourceEncryptionAlgorithm": algorithm,
                      "DestinationKeyId": k.sym()}


for alg in ("RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"):
    valid = functools.partial(lambda k, alg: k.ciphertext("RSA_2048", alg), alg=alg)
    other = "RSAES_OAEP_SHA_256" if alg == "RSAES_OAEP_SHA_1" else "RSAES_OAEP_SHA_1"
    shapes = [
        ("1-byte", b"\x00"),
        ("k-minus-1-bytes", lambda k, v=valid: v(k)[1:]),
        ("k-plus-1-bytes", lambda k, v=valid: b"\x00" + v(k)),
        ("k-zero-bytes", bytes(RSA_K)),
        ("k-ff-bytes", b"\xff" * RSA_K),
        ("one", (1).to_bytes(RSA_K, "big")),
        ("modulus", lambda k: k.modulus("RSA_2048", "ENCRYPT_DECRYPT").to_bytes(RSA_K, "big")),
        ("modulus-plus-1", lambda k: (k.modulus("RSA_2048", "ENCRYPT_DECRYPT") + 1).to_bytes(RSA_K, "big")),
        ("modulus-minus-1", lambda k: (k.modulus("RSA_2048", "ENCRYPT_DECRYPT") - 1).to_bytes(RSA_K, "big")),
        ("6144-bytes", b"\xff" * 6144),
        ("k-random-bytes", rand(RSA_K)),
        ("valid-flipped", lambda k, v=valid: flip(v(k), 100)),
        ("valid-doubled", lambda k, v=valid: v(k) * 2),
        ("made-with-the-other-hash", lambda k, o=other: k.ciphertext("RSA_2048", o)),
        ("sm2-ciphertext", lambda k: k.ciphertext("SM2", "SM2PKE")),
    ]
    for name, ciphertext in shapes:
        case(f"decrypt-rsa-{alg}-{name}", "Decrypt", decrypt("RSA_2048", alg, ciphertext), CT_INVALID)
    for name, ciphertext in shapes[:8]:
        case(f"re-encrypt-rsa-{alg}-{name}", "ReEncrypt", re_encrypt("RSA_2048", alg, ciphertext), CT_INVALID)


def sm2_parts(k):
    return [content for _, content in der_children(k.ciphertext("SM2", "SM2PKE"))]


def sm2_ct(x=None, y=None, c3=None, c2=None, raw_x=None):
    def build(k):
        vx, vy, vc3, vc2 = sm2_parts(k)
        values = [int.from_bytes(vx, "big") if x is None else (x(k) if callable(x) else x),
                  int.from_bytes(vy, "big") if y is None else (y(k) if callable(y) else y)]
        first = der(0x02, raw_x) if raw_x is not None else der_int(values[0])
        return der(0x30, first + der_int(values[1]) + der(0x04, vc3 if c3 is None else c3(vc3)) +
                   der(0x04, vc2 if c2 is None else c2(vc2)))
    return build


def sm2_valid(k):
    return k.ciphertext("SM2", "SM2PKE")


SM2 = CURVES["SM2"]


def sm2_own_point(k):
    p = k.point("SM2", "ENCRYPT_DECRYPT")
    return int.from_bytes(p[1:33], "big"), int.from_bytes(p[33:], "big")


SM2_SHAPES = [
    ("1-byte", b"\x30"),
    ("6144-ff", b"\xff" * 6144),
    ("random-200", rand(200)),
    ("empty-sequence", b"\x30\x00"),
    ("c3-flipped", sm2_ct(c3=lambda v: flip(v, 0))),
    ("c2-flipped", sm2_ct(c2=lambda v: flip(v, 0))),
    ("c2-empty", sm2_ct(c2=lambda v: b"")),
    ("c2-4000-bytes", sm2_ct(c2=lambda v: bytes(4000))),
    ("c3-31-bytes", sm2_ct(c3=lambda v: v[:31])),
    ("c3-33-bytes", sm2_ct(c3=lambda v: v + b"\x00")),
    ("c3-empty", sm2_ct(c3=lambda v: b"")),
    ("point-off-curve", sm2_ct(y=lambda k: (int.from_bytes(sm2_parts(k)[1], "big") + 1) % SM2.p)),
    ("point-zero-zero", sm2_ct(x=0, y=0)),
    ("x-equals-p", sm2_ct(x=SM2.p)),
    ("x-2-pow-256-minus-1", sm2_ct(x=2**256 - 1)),
    ("x-negative", sm2_ct(x=-5)),
    ("x-2-pow-300", sm2_ct(x=2**300)),
    ("x-empty-integer", sm2_ct(raw_x=b"")),
    ("x-non-minimal-33-bytes", sm2_ct(raw_x=b"\x00" * 33)),
    ("c1-is-the-public-key", sm2_ct(x=lambda k: sm2_own_point(k)[0], y=lambda k: sm2_own_point(k)[1])),
    ("valid-plus-trailing-byte", lambda k: sm2_valid(k) + b"\x00"),
    ("valid-minus-last-byte", lambda k: sm2_valid(k)[:-1]),
    ("three-elements", lambda k: der(0x30, b"".join(der(t, c) for t, c in der_children(sm2_valid(k))[:3]))),
    ("five-elements", lambda k: der(0x30, b"".join(der(t, c) for t, c in der_children(sm2_valid(k))) +
                                    der(0x04, b"x"))),
    ("c2-before-c3", lambda k: (lambda p: der(0x30, der(0x02, p[0][1]) + der(0x02, p[1][1]) + der(0x04, p[3][1]) +
                                                      der(0x04, p[2][1])))(der_children(sm2_valid(k)))),
    ("huge-sequence-length", lambda k: b"\x30\x84\xff\xff\xff\xff" + sm2_valid(k)[2:]),
    ("indefinite-length", lambda k: b"\x30\x80" + sm2_valid(k)[2:] + b"\x00\x00"),
    ("c2-huge-length", lambda k: (lambda p: der(0x30, der(0x02, p[0][1]) + der(0x02, p[1][1]) + der(0x04, p[2][1]) +
                                                b"\x04\x84\x7f\xff\xff\xff" + p[3][1]))(der_children(sm2_valid(k)))),
    ("c2-length-past-end", lambda k: (lambda p: der(0x30, der(0x02, p[0][1]) + der(0x02, p[1][1]) +
                                                    der(0x04, p[2][1]) + b"\x04\x82\x0f\xff" + p[3][1]))(
        der_children(sm2_valid(k)))),
    ("deep-nesting", deep_der(3000)),
    ("raw-c1c3c2-not-der", lambda k: b"\x04" + b"".join(
        v.rjust(32, b"\x00")[-32:] if i < 2 else v for i, v in enumerate(sm2_parts(k)))),
    ("rsa-ciphertext", lambda k: k.ciphertext("RSA_2048", "RSAES_OAEP_SHA_256")),
]
for name, ciphertext in SM2_SHAPES:
    case(f"decrypt-sm2-{name}", "Decrypt", decrypt("SM2", "SM2PKE", ciphertext), CT_INVALID)
for name, ciphertext in SM2_SHAPES[4:14]:
    case(f"re-encrypt-sm2-{name}", "ReEncrypt", re_encrypt("SM2", "SM2PKE", ciphertext), CT_INVALID)


def encrypt_body(spec, algorithm, plaintext=b"x", usage="ENCRYPT_DECRYPT", **extra):
    def build(k):
        body = {"KeyId": k.key(spec, usage), "Plaintext": b64(plaintext)}
        if algorithm is not None:
            body["EncryptionAlgorithm"] = algorithm
        return {**body, **extra}
    return build


case("encrypt-rsa-oaep-256-191-bytes", "Encrypt", encrypt_body("RSA_2048", "RSAES_OAEP_SHA_256", bytes(191)),
     VALIDATION)
case("encrypt-rsa-oaep-1-215-bytes", "Encrypt", encrypt_body("RSA_2048", "RSAES_OAEP_SHA_1", bytes(215)),
     VALIDATION)
case("encrypt-rsa-4096-bytes", "Encrypt", encrypt_body("RSA_2048", "RSAES_OAEP_SHA_256", bytes(4096)), VALIDATION)
case("encrypt-rsa-4097-bytes", "Encrypt", encrypt_body("RSA_2048", "RSAES_OAEP_SHA_256", bytes(4097)), VALIDATION)
case("encrypt-sm2-1025-bytes", "Encrypt", encrypt_body("SM2", "SM2PKE", bytes(1025)), VALIDATION)
case("encrypt-rsa-without-algorithm", "Encrypt", encrypt_body("RSA_2048", None), USAGE)
case("encrypt-rsa-symmetric-default", "Encrypt", encrypt_body("RSA_2048", "SYMMETRIC_DEFAULT"), USAGE)
case("encrypt-rsa-with-sm2pke", "Encrypt", encrypt_body("RSA_2048", "SM2PKE"), USAGE)
case("encrypt-sm2-with-oaep", "Encrypt", encrypt_body("SM2", "RSAES_OAEP_SHA_256"), USAGE)
case("encrypt-symmetric-with-oaep", "Encrypt", encrypt_body("SYMMETRIC_DEFAULT", "RSAES_OAEP_SHA_256"), USAGE)
case("encrypt-rsa-sign-verify-key", "Encrypt", encrypt_body("RSA_2048", "RSAES_OAEP_SHA_256", usage="SIGN_VERIFY"),
     USAGE)
case("encrypt-hmac-key-with-oaep", "Encrypt",
     encrypt_body("HMAC_256", "RSAES_OAEP_SHA_256", usage="GENERATE_VERIFY_MAC"), USAGE)
case("encrypt-rsa-with-context", "Encrypt",
     encrypt_body("RSA_2048", "RSAES_OAEP_SHA_256", EncryptionContext={"a": "b"}), VALIDATION)
case("encrypt-sm2-with-context", "Encrypt", encrypt_body("SM2", "SM2PKE", EncryptionContext={"a": "b"}),
     VALIDATION)
case("encrypt-algorithm-unknown", "Encrypt", encrypt_body("RSA_2048", "RSAES_PKCS1_V1_5"), VALIDATION)
case("encrypt-algorithm-number", "Encrypt", encrypt_body("RSA_2048", 7), SERIALIZATION)
case("decrypt-rsa-without-key-id", "Decrypt",
     decrypt("RSA_2048", "RSAES_OAEP_SHA_256", lambda k: k.ciphertext("RSA_2048", "RSAES_OAEP_SHA_256"), False),
     VALIDATION)
case("decrypt-rsa-without-algorithm", "Decrypt", lambda k: {
    "KeyId": k.key("RSA_2048", "ENCRYPT_DECRYPT"),
    "CiphertextBlob": b64(k.ciphertext("RSA_2048", "RSAES_OAEP_SHA_256"))}, USAGE | CT_INVALID)
case("decrypt-rsa-with-context", "Decrypt", lambda k: {
    **decrypt("RSA_2048", "RSAES_OAEP_SHA_256", lambda k: k.ciphertext("RSA_2048", "RSAES_OAEP_SHA_256"))(k),
    "EncryptionContext": {"a": "b"}}, VALIDATION)
case("decrypt-sm2pke-on-rsa-key", "Decrypt",
     decrypt("RSA_2048", "SM2PKE", lambda k: k.ciphertext("SM2", "SM2PKE")), USAGE)
case("decrypt-oaep-on-sign-verify-key", "Decrypt", lambda k: {
    "KeyId": k.key("RSA_2048", "SIGN_VERIFY"), "EncryptionAlgorithm": "RSAES_OAEP_SHA_256",
    "CiphertextBlob": b64(bytes(RSA_K))}, USAGE | {"IncorrectKeyException"})
case("decrypt-oaep-on-hmac-key", "Decrypt", lambda k: {
    "KeyId": k.key("HMAC_256", "GENERATE_VERIFY_MAC"), "EncryptionAlgorithm": "RSAES_OAEP_SHA_256",
    "CiphertextBlob": b64(bytes(RSA_K))}, USAGE | {"IncorrectKeyException"})
case("decrypt-ciphertext-6145-bytes", "Decrypt", decrypt("RSA_2048", "RSAES_OAEP_SHA_256", bytes(6145)), VALIDATION)
case("decrypt-recipient-garbage", "Decrypt", lambda k: {
    **decrypt("RSA_2048", "RSAES_OAEP_SHA_256", bytes(RSA_K))(k),
    "Recipient": {"AttestationDocument": b64(rand(64))}}, None)
case("re-encrypt-rsa-without-source-key", "ReEncrypt", lambda k: {
    "CiphertextBlob": b64(k.ciphertext("RSA_2048", "RSAES_OAEP_SHA_256")),
    "SourceEncryptionAlgorithm": "RSAES_OAEP_SHA_256", "DestinationKeyId": k.sym()}, VALIDATION)
case("re-encrypt-to-sign-verify-key", "ReEncrypt", lambda k: {
    **re_encrypt("RSA_2048", "RSAES_OAEP_SHA_256", lambda k: k.ciphertext("RSA_2048", "RSAES_OAEP_SHA_256"))(k),
    "DestinationKeyId": k.key("ECC_NIST_P256", "SIGN_VERIFY")}, USAGE)
case("re-encrypt-to-rsa-without-algorithm", "ReEncrypt", lambda k: {
    **re_encrypt("RSA_2048", "RSAES_OAEP_SHA_256", lambda k: k.ciphertext("RSA_2048", "RSAES_OAEP_SHA_256"))(k),
    "DestinationKeyId": k.key("RSA_2048", "ENCRYPT_DECRYPT")}, USAGE)
case("re-encrypt-to-rsa-plaintext-too-large", "ReEncrypt", lambda k: {
    "CiphertextBlob": b64(k.kms.encrypt(KeyId=k.sym(), Plaintext=bytes(300))["CiphertextBlob"]),
    "DestinationKeyId": k.key("RSA_2048", "ENCRYPT_DECRYPT"),
    "DestinationEncryptionAlgorithm": "RSAES_OAEP_SHA_256"}, VALIDATION)
case("re-encrypt-to-sm2-with-context", "ReEncrypt", lambda k: {
    **re_encrypt("RSA_2048", "RSAES_OAEP_SHA_256", lambda k: k.ciphertext("RSA_2048", "RSAES_OAEP_SHA_256"))(k),
    "DestinationKeyId": k.key("SM2", "ENCRYPT_DECRYPT"), "DestinationEncryptionAlgorithm": "SM2PKE",
    "DestinationEncryptionContext": {"a": "b"}}, VALIDATION)
case("re-encrypt-destination-algorithm-unknown", "ReEncrypt", lambda k: {
    **re_encrypt("RSA_2048", "RSAES_OAEP_SHA_256", lambda k: k.ciphertext("RSA_2048", "RSAES_OAEP_SHA_256"))(k),
    "DestinationEncryptionAlgorithm": "AES"}, VALIDATION)


# -- CreateKey: every KeySpec x KeyUsage
KEY_SPECS = ["SYMMETRIC_DEFAULT", "RSA_2048", "RSA_3072", "RSA_4096", "ECC_NIST_P256", "ECC_NIST_P384",
             "ECC_NIST_P521", "ECC_SECG_P256K1", "ECC_NIST_EDWARDS25519", "HMAC_224", "HMAC_256", "HMAC_384",
             "HMAC_512", "SM2", "ML_DSA_44", "ML_DSA_65", "ML_DSA_87"]
KEY_USAGES = ["ENCRYPT_DECRYPT", "SIGN_VERIFY", "GENERATE_VERIFY_MAC", "KEY_AGREEMENT"]
VALID_USAGES = {
    "SYMMETRIC_DEFAULT": {"ENCRYPT_DECRYPT"},
    **{f"RSA_{n}": {"ENCRYPT_DECRYPT", "SIGN_VERIFY"} for n in (2048, 3072, 4096)},
    **{f"ECC_NIST_P{n}": {"SIGN_VERIFY", "KEY_AGREEMENT"} for n in (256, 384, 521)},
    "ECC_SECG_P256K1": {"SIGN_VERIFY"},
    "ECC_NIST_EDWARDS25519": {"SIGN_VERIFY"},
    **{f"HMAC_{n}": {"GENERATE_VERIFY_MAC"} for n in (224, 256, 384, 512)},
    "SM2": {"ENCRYPT_DECRYPT", "SIGN_VERIFY", "KEY_AGREEMENT"},
    **{f"ML_DSA_{n}": {"SIGN_VERIFY"} for n in (44, 65, 87)},
}
for spec in KEY_SPECS:
    for usage in KEY_USAGES:
        if usage not in VALID_USAGES[spec]:
            case(f"create-key-{spec}-{usage}", "CreateKey", lambda k, s=spec, u=usage: {"KeySpec": s, "KeyUsage": u},
                 VALIDATION)
    if spec != "SYMMETRIC_DEFAULT":
        case(f"create-key-{spec}-without-key-usage", "CreateKey", lambda k, s=spec: {"KeySpec": s}, VALIDATION)
for usage in KEY_USAGES[1:]:
    case(f"create-key-{usage}-without-key-spec", "CreateKey", lambda k, u=usage: {"KeyUsage": u}, VALIDATION)
case("create-key-spec-unknown", "CreateKey", lambda k: {"KeySpec": "ML_KEM_768", "KeyUsage": "ENCRYPT_DECRYPT"},
     VALIDATION)
case("create-key-spec-lowercase", "CreateKey", lambda k: {"KeySpec": "rsa_2048", "KeyUsage": "SIGN_VERIFY"},
     VALIDATION)
case("create-key-spec-number", "CreateKey", lambda k: {"KeySpec": 2048, "KeyUsage": "SIGN_VERIFY"}, SERIALIZATION)
case("create-key-usage-unknown", "CreateKey", lambda k: {"KeySpec": "RSA_2048", "KeyUsage": "SIGN"}, VALIDATION)
case("create-key-usage-as-list", "CreateKey", lambda k: {"KeySpec": "RSA_2048", "KeyUsage": ["SIGN_VERIFY"]},
     SERIALIZATION)
case("create-key-spec-and-cmk-spec-differ", "CreateKey", lambda k: {
    "KeySpec": "RSA_2048", "CustomerMasterKeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY"}, VALIDATION)
case("create-key-cmk-spec-ml-dsa", "CreateKey", lambda k: {
    "CustomerMasterKeySpec": "ML_DSA_44", "KeyUsage": "SIGN_VERIFY"}, VALIDATION)
case("create-key-cmk-spec-ed25519", "CreateKey", lambda k: {
    "CustomerMasterKeySpec": "ECC_NIST_EDWARDS25519", "KeyUsage": "SIGN_VERIFY"}, VALIDATION)
case("create-key-hmac-external-key-store", "CreateKey", lambda k: {
    "KeySpec": "HMAC_256", "KeyUsage": "GENERATE_VERIFY_MAC", "Origin": "EXTERNAL_KEY_STORE"}, None)
case("create-key-rsa-cloudhsm", "CreateKey", lambda k: {
    "KeySpec": "RSA_2048", "KeyUsage": "SIGN_VERIFY", "Origin": "AWS_CLOUDHSM"}, None)

# -- key state
case("sign-with-disabled-key", "Sign", lambda k: {
    "KeyId": k.disabled_key(), "Message": b64(MESSAGE), "SigningAlgorithm": "ECDSA_SHA_256"}, {"DisabledException"})
case("verify-with-disabled-key", "Verify", lambda k: {
    "KeyId": k.disabled_key(), "Message": b64(MESSAGE), "SigningAlgorithm": "ECDSA_SHA_256",
    "Signature": b64(b"\x30\x00")}, {"DisabledException"})
case("get-public-key-of-disabled-key", "GetPublicKey", lambda k: {"KeyId": k.disabled_key()},
     {"DisabledException"})
case("derive-with-key-pending-deletion", "DeriveSharedSecret", lambda k: {
    "KeyId": k.pending_key(), "KeyAgreementAlgorithm": "ECDH", "PublicKey": b64(foreign_spki("p256"))},
    {"KMSInvalidStateException"})


# -- the tests ----------------------------------------------------------------------------------

class KeyBox(Keys):
    @functools.cache
    def disabled_key(self):
        key_id = self.kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
        self.kms.disable_key(KeyId=key_id)
        return key_id

    @functools.cache
    def pending_key(self):
        key_id = self.kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="KEY_AGREEMENT")["KeyMetadata"]["KeyId"]
        self.kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
        return key_id


@pytest.fixture(scope="module")
def keys(kms):
    return KeyBox(kms)


def valid_request(keys, operation):
    """A well-formed request of the same operation, for the key kinds this corpus attacks."""
    p256 = keys.key("ECC_NIST_P256", "SIGN_VERIFY")
    rsa_ciphertext = keys.ciphertext("RSA_2048", "RSAES_OAEP_SHA_256")
    return {
        "Sign": {"KeyId": p256, "Message": b64(MESSAGE), "SigningAlgorithm": "ECDSA_SHA_256"},
        "Verify": {"KeyId": p256, "Message": b64(MESSAGE), "SigningAlgorithm": "ECDSA_SHA_256",
                   "Signature": b64(keys.signature("ECC_NIST_P256", "ECDSA_SHA_256"))},
        "GetPublicKey": {"KeyId": p256},
        "GenerateMac": {"KeyId": keys.key("HMAC_256", "GENERATE_VERIFY_MAC"), "Message": b64(MESSAGE),
                        "MacAlgorithm": "HMAC_SHA_256"},
        "VerifyMac": {"KeyId": keys.key("HMAC_256", "GENERATE_VERIFY_MAC"), "Message": b64(MESSAGE),
                      "MacAlgorithm": "HMAC_SHA_256", "Mac": b64(keys.mac("HMAC_256", "HMAC_SHA_256"))},
        "DeriveSharedSecret": {"KeyId": keys.key("ECC_NIST_P256", "KEY_AGREEMENT"), "KeyAgreementAlgorithm": "ECDH",
                               "PublicKey": b64(foreign_spki("p256"))},
        "Encrypt": {"KeyId": keys.key("RSA_2048", "ENCRYPT_DECRYPT"), "Plaintext": b64(b"ok"),
                    "EncryptionAlgorithm": "RSAES_OAEP_SHA_256"},
        "Decrypt": {"KeyId": keys.key("RSA_2048", "ENCRYPT_DECRYPT"), "CiphertextBlob": b64(rsa_ciphertext),
                    "EncryptionAlgorithm": "RSAES_OAEP_SHA_256"},
        "ReEncrypt": {"CiphertextBlob": b64(keys.ciphertext("SM2", "SM2PKE")),
                      "SourceKeyId": keys.key("SM2", "ENCRYPT_DECRYPT"), "SourceEncryptionAlgorithm": "SM2PKE",
                      "DestinationKeyId": keys.sym()},
        "CreateKey": None,
    }[operation]


def assert_kms_error(response, codes):
    assert 400 <= response.status < 500, response
    assert response.header("Content-Type") == JSON_TYPE, response
    payload = json.loads(response.body)
    assert isinstance(payload, dict), payload
    code, message = payload.get("__type"), payload.get("message")
    assert code in KMS_ERRORS, payload
    assert isinstance(message, str) and message.strip(), payload
    if codes is not None:
        assert code in codes, payload
    assert response.status == (412 if code == "DryRunOperationException" else 400), response
    return code


def assert_operation_still_works(raw, keys, operation):
    payload = valid_request(keys, operation)
    response = raw.call("ListKeys", {"Limit": 1}) if payload is None else raw.call(operation, payload)
    assert response.status == 200, (operation, response)


def case_params():
    seen = set()
    for case_id, operation, build, codes in CASES:
        assert case_id not in seen, case_id
        seen.add(case_id)
        yield pytest.param(operation, build, codes, id=case_id)


@pytest.mark.parametrize("operation, build, codes", case_params())
def test_hostile_input_gets_a_kms_error_and_the_operation_keeps_working(raw, keys, operation, build, codes):
    payload = build(keys)
    response = raw.call(operation, payload, timeout=20)
    assert_kms_error(response, codes)
    assert_operation_still_works(raw, keys, operation)


def test_the_corpus_is_large():
    assert len(CASES) >= 400, len(CASES)


VALID_COMBINATIONS = [(spec, usage) for spec in KEY_SPECS for usage in KEY_USAGES if usage in VALID_USAGES[spec]]


@pytest.mark.parametrize("spec, usage", VALID_COMBINATIONS, ids=[f"{s}-{u}" for s, u in VALID_COMBINATIONS])
def test_every_valid_key_spec_and_usage_creates_a_key_whose_public_key_is_right(raw, spec, usage):
    """The positive half of the CreateKey matrix: what the corpus calls invalid is only that."""
    response = raw.call("CreateKey", {"KeySpec": spec, "KeyUsage": usage}, timeout=60)
    assert response.status == 200, response
    metadata = response.json()["KeyMetadata"]
    assert (metadata["KeySpec"], metadata["KeyUsage"]) == (spec, usage)
    public = raw.call("GetPublicKey", {"KeyId": metadata["KeyId"]})
    if spec == "SYMMETRIC_DEFAULT" or spec.startswith("HMAC"):
        assert_kms_error(public, {"UnsupportedOperationException"})
        return
    assert public.status == 200, public
    spki = base64.b64decode(public.json()["PublicKey"])
    if spec.startswith("ML_DSA"):
        assert len(spki) == {"ML_DSA_44": 1334, "ML_DSA_65": 1974, "ML_DSA_87": 2614}[spec]
        return
    if spec == "SM2":
        assert der_children(spki)[0][0] == 0x30
        x, y = int.from_bytes(spki[-64:-32], "big"), int.from_bytes(spki[-32:], "big")
        assert CURVES["SM2"].on_curve(x, y)
        return
    key = serialization.load_der_public_key(spki)
    if spec.startswith("RSA"):
        assert key.key_size == int(spec[4:])
    elif spec in CURVES:
        numbers = key.public_numbers()
        assert CURVES[spec].on_curve(numbers.x, numbers.y)
    else:
        assert isinstance(key, ed25519.Ed25519PublicKey)


def test_curve_constants_describe_real_points():
    """The off-curve and no-such-x cases rely on these constants; check them on real keys."""
    for name, spec in [("p256", "ECC_NIST_P256"), ("p384", "ECC_NIST_P384"), ("p521", "ECC_NIST_P521"),
                       ("k1", "ECC_SECG_P256K1")]:
        numbers = serialization.load_der_public_key(foreign_spki(name)).public_numbers()
        assert CURVES[spec].on_curve(numbers.x, numbers.y)
        assert not CURVES[spec].on_curve(numbers.x, numbers.y + 1)
