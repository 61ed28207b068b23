"""PyJWT prepares the HMAC key again for every token it signs or verifies: the secret is checked not
to be a PEM, SSH, JSON or DER key (four parsers, two of them raising), about a tenth of a token check.
The signing key is fixed for the life of the process, so its preparation is kept."""

import functools
from typing import Any

import jwt
from jwt.algorithms import HMACAlgorithm

HMAC_ALGORITHMS = {"HS256": HMACAlgorithm.SHA256, "HS384": HMACAlgorithm.SHA384, "HS512": HMACAlgorithm.SHA512}


class PreparedKeyHMACAlgorithm(HMACAlgorithm):
    """HMACAlgorithm with each key's preparation done once (the same result, the same errors: a
    key that fails is not kept and fails again)."""

    def __init__(self, hash_alg: Any) -> None:
        super().__init__(hash_alg)
        self._prepared = functools.lru_cache(maxsize=8)(super().prepare_key)

    def prepare_key(self, key: str | bytes) -> bytes:
        if isinstance(key, str | bytes):
            return self._prepared(key)
        return super().prepare_key(key)


def jwt_hmac_keys_prepare_once() -> None:
    """Replace PyJWT's HMAC algorithms (module-level jwt.encode/decode, which simplejwt calls)."""
    for name, hash_alg in HMAC_ALGORITHMS.items():
        jwt.unregister_algorithm(name)
        jwt.register_algorithm(name, PreparedKeyHMACAlgorithm(hash_alg))
