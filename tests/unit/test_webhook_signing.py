from domain.webhooks import encode_body, sign, verify


def test_signature_is_hmac_sha256_of_the_exact_body_in_hex():
    # Reference: printf '{"a":1}' | openssl dgst -sha256 -hmac key
    assert sign("key", b'{"a":1}') == "sha256=88a67f24bbcdaed0e6c997404bb79a743baf44c6bab2f4c27328e3009d22e342"


def test_receiver_verifies_the_body_and_rejects_tampering_or_another_secret():
    body = encode_body({"id": "e1", "score": 42.5, "message": 'a, "b"'})
    signature = sign("s3cret", body)
    assert verify("s3cret", body, signature)
    assert not verify("s3cret", body.replace(b"42.5", b"92.5"), signature)
    assert not verify("other", body, signature)
    assert not verify("s3cret", body, None)


def test_body_encoding_is_stable():
    assert encode_body({"b": 1, "a": [1, 2]}) == b'{"a":[1,2],"b":1}'
