"""The bad-input corpus: requests no SDK would send. Whatever arrives, Trent answers with a 4xx
and an AWS JSON error body ({"__type", "message"}), never a 5xx, never a hang, and keeps serving
normal requests afterwards. Requests are properly SigV4-signed unless the signature is the point."""
import json

import pytest

JSON_TYPE = "application/x-amz-json-1.1"
TWO_MIB = 2 * 1024 * 1024


class Request:
    def __init__(self, headers, body, method="POST", content_length=True, path="/"):
        self.headers, self.body, self.method, self.content_length = headers, body, method, content_length
        self.path = path


def signed(raw, target="TrentService.ListKeys", body=b"{}", content_type=JSON_TYPE, extra=()):
    """A signed request; X-Amz-Target and Content-Type are signed when given (None leaves them out)."""
    body = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {}
    if content_type is not None:
        headers["Content-Type"] = content_type
    if target is not None:
        headers["X-Amz-Target"] = target
    return Request(raw.sign(body, headers) + list(extra), body)


def op(name):
    return f"TrentService.{name}"


def nested_arrays(depth):
    return b"[" * depth + b"]" * depth


def nested_objects(depth, member="Nested"):
    return (f'{{"{member}":'.encode() * depth) + b"{}" + b"}" * depth


def chunked(data, size=65536):
    out = b"".join(b"%x\r\n%s\r\n" % (len(data[i:i + size]), data[i:i + size]) for i in range(0, len(data), size))
    return out + b"0\r\n\r\n"


# id, build(raw, key_id) -> Request, the __type values accepted (None: any, as long as it is 4xx JSON)
CORPUS = [
    # -- the body is not the JSON object the operation needs
    ("malformed-json", lambda raw, k: signed(raw, op("DescribeKey"), b'{"KeyId": '), {"SerializationException"}),
    ("json-trailing-garbage", lambda raw, k: signed(raw, op("ListKeys"), b'{} {}'), {"SerializationException"}),
    ("json-array", lambda raw, k: signed(raw, op("ListKeys"), b"[]"), {"SerializationException"}),
    ("json-string", lambda raw, k: signed(raw, op("ListKeys"), b'"ListKeys"'), {"SerializationException"}),
    ("json-number", lambda raw, k: signed(raw, op("ListKeys"), b"42"), {"SerializationException"}),
    ("json-null", lambda raw, k: signed(raw, op("DescribeKey"), b"null"), None),
    ("json-true", lambda raw, k: signed(raw, op("ListKeys"), b"true"), {"SerializationException"}),
    ("empty-body-for-required-member", lambda raw, k: signed(raw, op("DescribeKey"), b""),
     {"ValidationException", "SerializationException"}),
    ("whitespace-body", lambda raw, k: signed(raw, op("DescribeKey"), b"   "), None),
    ("non-utf8-body", lambda raw, k: signed(raw, op("ListKeys"), b"\xff\xfe\x00{}"), None),
    ("non-utf8-in-string", lambda raw, k: signed(raw, op("DescribeKey"), b'{"KeyId": "\xff\xfe\x80"}'), None),
    ("lone-surrogate-escape", lambda raw, k: signed(raw, op("DescribeKey"), b'{"KeyId": "\\ud800"}'), None),
    ("nul-in-key-id", lambda raw, k: signed(raw, op("DescribeKey"), {"KeyId": "abc\u0000def"}), None),
    ("deeply-nested-arrays", lambda raw, k: signed(raw, op("ListKeys"), nested_arrays(10000)),
     {"SerializationException"}),
    ("very-deeply-nested-arrays", lambda raw, k: signed(raw, op("ListKeys"), nested_arrays(400000)), None),
    ("deeply-nested-objects-in-unknown-member",
     lambda raw, k: signed(raw, op("ListKeys"), nested_objects(80000, "N")), {"ValidationException"}),
    ("deeply-nested-in-encryption-context",
     lambda raw, k: signed(raw, op("Encrypt"), b'{"KeyId": "%s", "Plaintext": "eA==", "EncryptionContext": {"a": '
                           % k.encode() + nested_arrays(10000) + b"}}"), {"SerializationException"}),
    ("duplicate-json-members",
     lambda raw, k: signed(raw, op("DescribeKey"), b'{"KeyId": "%s", "KeyId": "nope"}' % k.encode()), None),
    # -- members of the wrong type
    ("key-id-as-number", lambda raw, k: signed(raw, op("DescribeKey"), {"KeyId": 42}), {"SerializationException"}),
    ("key-id-as-object", lambda raw, k: signed(raw, op("DescribeKey"), {"KeyId": {"id": k}}),
     {"SerializationException"}),
    ("limit-as-string", lambda raw, k: signed(raw, op("ListKeys"), {"Limit": "10"}), {"SerializationException"}),
    ("limit-as-float", lambda raw, k: signed(raw, op("ListKeys"), {"Limit": 1.5}), {"SerializationException"}),
    ("limit-huge", lambda raw, k: signed(raw, op("ListKeys"), b'{"Limit": 1e400}'), None),
    ("limit-beyond-int64", lambda raw, k: signed(raw, op("ListKeys"), {"Limit": 2 ** 70}), None),
    ("limit-as-bool", lambda raw, k: signed(raw, op("ListKeys"), {"Limit": True}), {"SerializationException"}),
    ("plaintext-not-base64", lambda raw, k: signed(raw, op("Encrypt"), {"KeyId": k, "Plaintext": "not base64!"}),
     {"SerializationException"}),
    ("plaintext-bad-padding", lambda raw, k: signed(raw, op("Encrypt"), {"KeyId": k, "Plaintext": "QUJD="}),
     {"SerializationException"}),
    ("plaintext-missing-padding", lambda raw, k: signed(raw, op("Encrypt"), {"KeyId": k, "Plaintext": "QQ"}),
     None),
    ("plaintext-as-number", lambda raw, k: signed(raw, op("Encrypt"), {"KeyId": k, "Plaintext": 7}),
     {"SerializationException"}),
    ("plaintext-empty", lambda raw, k: signed(raw, op("Encrypt"), {"KeyId": k, "Plaintext": ""}),
     {"ValidationException"}),
    ("ciphertext-not-base64", lambda raw, k: signed(raw, op("Decrypt"), {"CiphertextBlob": "%%%"}),
     {"SerializationException"}),
    ("ciphertext-garbage", lambda raw, k: signed(raw, op("Decrypt"), {"CiphertextBlob": "AAAAAAAAAAAAAAAA"}),
     {"InvalidCiphertextException"}),
    ("encryption-context-as-list",
     lambda raw, k: signed(raw, op("Encrypt"), {"KeyId": k, "Plaintext": "eA==", "EncryptionContext": ["a"]}),
     {"SerializationException"}),
    ("encryption-context-value-number",
     lambda raw, k: signed(raw, op("Encrypt"), {"KeyId": k, "Plaintext": "eA==", "EncryptionContext": {"a": 1}}),
     {"SerializationException"}),
    ("encryption-context-value-null",
     lambda raw, k: signed(raw, op("Encrypt"), {"KeyId": k, "Plaintext": "eA==", "EncryptionContext": {"a": None}}),
     None),
    ("encryption-context-proto-key",
     lambda raw, k: signed(raw, op("Decrypt"), b'{"CiphertextBlob": "AAAA", "EncryptionContext": {"__proto__": "x"}}'),
     None),
    ("grant-tokens-11",
     lambda raw, k: signed(raw, op("Encrypt"), {"KeyId": k, "Plaintext": "eA==",
                                                "GrantTokens": [f"t{i}" for i in range(11)]}),
     {"ValidationException"}),
    ("grant-tokens-null-member",
     lambda raw, k: signed(raw, op("Encrypt"), {"KeyId": k, "Plaintext": "eA==", "GrantTokens": [None]}), None),
    ("grant-tokens-not-a-list",
     lambda raw, k: signed(raw, op("Encrypt"), {"KeyId": k, "Plaintext": "eA==", "GrantTokens": "t"}),
     {"SerializationException"}),
    ("tags-null-member", lambda raw, k: signed(raw, op("TagResource"), {"KeyId": k, "Tags": [None]}), None),
    ("tag-missing-tag-key",
     lambda raw, k: signed(raw, op("TagResource"), {"KeyId": k, "Tags": [{"TagValue": "v"}]}),
     {"ValidationException"}),
    ("tag-keys-null-member", lambda raw, k: signed(raw, op("UntagResource"), {"KeyId": k, "TagKeys": [None]}),
     None),
    ("dry-run-as-string",
     lambda raw, k: signed(raw, op("Encrypt"), {"KeyId": k, "Plaintext": "eA==", "DryRun": "true"}),
     {"SerializationException"}),
    ("unknown-member", lambda raw, k: signed(raw, op("DescribeKey"), {"KeyId": k, "Bogus": 1}), None),
    ("unknown-lowercase-member", lambda raw, k: signed(raw, op("DescribeKey"), {"keyId": k}), None),
    ("proto-member", lambda raw, k: signed(raw, op("ListKeys"), b'{"__proto__": {"Limit": 0}}'), None),
    ("constructor-member", lambda raw, k: signed(raw, op("ListKeys"), {"constructor": {"prototype": 1}}), None),
    # -- size
    ("body-2mib", lambda raw, k: signed(raw, op("ListKeys"), b" " * TWO_MIB), {"RequestEntityTooLargeException"}),
    ("body-2mib-json", lambda raw, k: signed(raw, op("Encrypt"),
                                             {"KeyId": k, "Plaintext": "QUFB" * (TWO_MIB // 4)}),
     {"RequestEntityTooLargeException"}),
    ("body-2mib-chunked",
     lambda raw, k: Request(raw.sign(b"{}", raw.kms_headers("ListKeys")) + [("Transfer-Encoding", "chunked")],
                            chunked(b" " * TWO_MIB), content_length=False),
     {"RequestEntityTooLargeException"}),
    ("declared-length-2mib-sent-nothing",
     lambda raw, k: Request(raw.sign(b"", raw.kms_headers("ListKeys")) + [("Content-Length", str(TWO_MIB))],
                            b"", content_length=False),
     {"RequestEntityTooLargeException"}),
    # -- X-Amz-Target
    ("empty-target", lambda raw, k: signed(raw, ""), {"UnknownOperationException"}),
    ("no-target", lambda raw, k: signed(raw, None), {"UnknownOperationException"}),
    ("other-service-target", lambda raw, k: signed(raw, "DynamoDB_20120810.ListTables"),
     {"UnknownOperationException"}),
    ("unknown-operation", lambda raw, k: signed(raw, op("Nope")), {"UnknownOperationException"}),
    ("empty-operation", lambda raw, k: signed(raw, "TrentService."), {"UnknownOperationException"}),
    ("prefix-only", lambda raw, k: signed(raw, "TrentService"), {"UnknownOperationException"}),
    ("lowercase-operation", lambda raw, k: signed(raw, op("listkeys")), {"UnknownOperationException"}),
    ("operation-with-spaces", lambda raw, k: signed(raw, op(" ListKeys ")), None),
    ("prototype-property-as-operation", lambda raw, k: signed(raw, op("constructor")),
     {"UnknownOperationException"}),
    ("proto-as-operation", lambda raw, k: signed(raw, op("__proto__")), {"UnknownOperationException"}),
    ("has-own-property-as-operation", lambda raw, k: signed(raw, op("hasOwnProperty")),
     {"UnknownOperationException"}),
    ("known-but-unimplemented-sign",
     lambda raw, k: signed(raw, op("Sign"), {"KeyId": k, "Message": "eA==", "SigningAlgorithm": "ECDSA_SHA_256"}),
     None),
    ("known-but-unimplemented-generate-mac",
     lambda raw, k: signed(raw, op("GenerateMac"), {"KeyId": k, "Message": "eA==", "MacAlgorithm": "HMAC_SHA_256"}),
     None),
    ("known-but-unimplemented-no-body", lambda raw, k: signed(raw, op("ListKeyRotations"), b""), None),
    ("duplicated-target",
     lambda raw, k: signed(raw, None, extra=[("X-Amz-Target", op("ListKeys")), ("X-Amz-Target", op("ListKeys"))]),
     None),
    ("duplicated-target-different",
     lambda raw, k: signed(raw, None, extra=[("X-Amz-Target", op("ListKeys")), ("X-Amz-Target", op("CreateKey"))]),
     None),
    ("target-8kib", lambda raw, k: signed(raw, op("A" * 8192)), {"UnknownOperationException"}),
    # -- Content-Type
    ("content-type-text-plain", lambda raw, k: signed(raw, content_type="text/plain"), None),
    ("content-type-form", lambda raw, k: signed(raw, content_type="application/x-www-form-urlencoded"), None),
    ("content-type-missing", lambda raw, k: signed(raw, content_type=None), None),
    ("content-type-duplicated",
     lambda raw, k: signed(raw, content_type=None, extra=[("Content-Type", JSON_TYPE), ("Content-Type", JSON_TYPE)]),
     None),
    # -- Authorization
    ("duplicated-authorization",
     lambda raw, k: (lambda r: Request(r.headers + [("Authorization", dict(r.headers)["Authorization"])], r.body))(
         signed(raw)), None),
    ("garbage-authorization",
     lambda raw, k: Request([(n, "\x01garbage;;==,,") if n == "Authorization" else (n, v)
                             for n, v in signed(raw).headers], b"{}"), None),
    ("authorization-missing-parts",
     lambda raw, k: Request([(n, "AWS4-HMAC-SHA256 Credential=AKIA/20240101/us-east-1/kms/aws4_request")
                             if n == "Authorization" else (n, v) for n, v in signed(raw).headers], b"{}"), None),
    ("authorization-sigv2",
     lambda raw, k: Request([(n, "AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=")
                             if n == "Authorization" else (n, v) for n, v in signed(raw).headers], b"{}"), None),
    ("authorization-signature-8kib",
     lambda raw, k: Request([(n, v.split("Signature=")[0] + "Signature=" + "a" * 8192) if n == "Authorization"
                             else (n, v) for n, v in signed(raw).headers], b"{}"), None),
    ("duplicated-x-amz-date",
     lambda raw, k: (lambda r: Request(r.headers + [("X-Amz-Date", dict(r.headers)["X-Amz-Date"])], r.body))(
         signed(raw)), None),
    ("malformed-x-amz-date",
     lambda raw, k: Request([(n, "yesterday") if n == "X-Amz-Date" else (n, v) for n, v in signed(raw).headers],
                            b"{}"), None),
    ("unsigned-request",
     lambda raw, k: Request([("Host", raw.host_header), ("Content-Type", JSON_TYPE),
                             ("X-Amz-Target", op("ListKeys"))], b"{}"), {"MissingAuthenticationTokenException"}),
    ("presigned-url",
     lambda raw, k: Request([("Host", raw.host_header), ("Content-Type", JSON_TYPE), ("X-Amz-Target", op("ListKeys"))],
                            b"{}", path="/?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE"
                                        "%2F20240101%2Fus-east-1%2Fkms%2Faws4_request&X-Amz-Date=20240101T000000Z"
                                        "&X-Amz-SignedHeaders=host&X-Amz-Signature=" + "0" * 64), None),
    # -- HTTP method and headers
    ("get-request", lambda raw, k: Request([("Host", raw.host_header)], b"", method="GET"), None),
    ("put-request", lambda raw, k: Request(signed(raw).headers, b"{}", method="PUT"), None),
    ("delete-request", lambda raw, k: Request(signed(raw).headers, b"", method="DELETE"), None),
    ("no-host-header",
     lambda raw, k: Request([(n, v) for n, v in signed(raw).headers if n != "Host"], b"{}"), None),
    ("two-host-headers",
     lambda raw, k: (lambda r: Request(r.headers + [("Host", "evil.example")], r.body))(signed(raw)), None),
    ("expect-other-than-100-continue", lambda raw, k: signed(raw, extra=[("Expect", "something-else")]), None),
    ("unknown-http-method", lambda raw, k: Request(signed(raw).headers, b"{}", method="BREW"), None),
    ("options-request", lambda raw, k: Request(signed(raw).headers, b"", method="OPTIONS"), None),
    ("connect-request",
     lambda raw, k: Request([("Host", raw.host_header)], b"", method="CONNECT", path=raw.host_header,
                            content_length=False), None),
    ("very-long-header-value", lambda raw, k: signed(raw, extra=[("X-Padding", "p" * 100_000)]), None),
    ("many-headers", lambda raw, k: signed(raw, extra=[(f"X-H{i}", "v") for i in range(3000)]), None),
]


@pytest.fixture(scope="module")
def corpus_key(kms):
    return kms.create_key(Description="bad-input corpus")["KeyMetadata"]["KeyId"]


def assert_still_serving(raw):
    response = raw.call("ListKeys", {"Limit": 1}, timeout=10)
    assert response.status == 200, response


def corpus_params():
    for case_id, build, codes in CORPUS:
        yield pytest.param(build, codes, id=case_id)


@pytest.mark.parametrize("build, codes", corpus_params())
def test_bad_input_gets_a_4xx_aws_json_error_and_the_server_keeps_serving(raw, corpus_key, build, codes):
    request = build(raw, corpus_key)
    response = raw.send(request.headers, request.body, method=request.method, path=request.path, timeout=15,
                        content_length=request.content_length)
    assert 400 <= response.status < 500, response
    payload = json.loads(response.body)
    assert isinstance(payload, dict), payload
    assert isinstance(payload.get("__type"), str) and payload["__type"], payload
    assert isinstance(payload.get("message"), str) and payload["message"], payload
    assert response.header("Content-Type") == "application/x-amz-json-1.1"
    if codes is not None:
        assert payload["__type"] in codes, payload
    assert_still_serving(raw)


def test_an_unsigned_12_kib_header_does_not_disturb_a_valid_request(raw):
    request = signed(raw, extra=[("X-Padding", "p" * 12_000)])
    assert raw.send(request.headers, request.body).status == 200


def test_the_corpus_leaves_the_corpus_key_untouched(kms, corpus_key):
    metadata = kms.describe_key(KeyId=corpus_key)["KeyMetadata"]
    assert (metadata["KeyState"], metadata["Description"]) == ("Enabled", "bad-input corpus")
    assert kms.list_resource_tags(KeyId=corpus_key)["Tags"] == []


def request_id_params():
    for case_id, build, _ in CORPUS:
        yield pytest.param(build, id=case_id)


@pytest.mark.parametrize("build", request_id_params())
def test_every_error_answer_carries_a_request_id(raw, corpus_key, build):
    request = build(raw, corpus_key)
    try:
        response = raw.send(request.headers, request.body, method=request.method, path=request.path, timeout=15,
                            content_length=request.content_length)
    except ConnectionError as error:
        pytest.fail(f"no answer at all: {error!r}")
    assert response.header("x-amzn-RequestId"), response
