"""The HMAC key is prepared once per process; a token check is otherwise unchanged."""

import jwt
import pytest
from jwt.api_jws import _jws_global_obj

from apps.accounts.jwt_keys import HMAC_ALGORITHMS, PreparedKeyHMACAlgorithm

SECRET = "a-test-secret-of-more-than-thirty-two-bytes-long"


def test_the_hmac_algorithms_in_use_prepare_their_key_once() -> None:
    for name in HMAC_ALGORITHMS:
        assert isinstance(_jws_global_obj.get_algorithm_by_name(name), PreparedKeyHMACAlgorithm)
    token = jwt.encode({"user_id": 7}, SECRET, algorithm="HS256")
    assert jwt.decode(token, SECRET, algorithms=["HS256"]) == {"user_id": 7}
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, SECRET + "x", algorithms=["HS256"])


def test_a_key_refused_once_is_refused_again() -> None:
    pem = b"-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----"
    algorithm = PreparedKeyHMACAlgorithm(PreparedKeyHMACAlgorithm.SHA256)
    for _ in range(2):
        with pytest.raises(jwt.InvalidKeyError):
            algorithm.prepare_key(pem)
