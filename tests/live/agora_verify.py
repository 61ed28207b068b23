"""A small verifier for Agora 006 tokens (agora-token-builder has none): decode, check the signature.

006 = "006" + app id (32 chars) + base64(packString(signature) + crc32(channel) + crc32(uid)
+ packString(message)); message = salt, ts, {privilege: absolute expiry}. The signature is
HMAC-SHA256 keyed with the certificate's hex string over app id + channel + uid string + message.
"""

import base64
import hmac
import struct
from dataclasses import dataclass
from hashlib import sha256
from zlib import crc32

JOIN, PUBLISH_AUDIO, PUBLISH_VIDEO, PUBLISH_DATA, RTM_LOGIN = 1, 2, 3, 4, 1000


@dataclass
class Decoded006:
    app_id: str
    signature: bytes
    crc_channel: int
    crc_uid: int
    message: bytes
    salt: int
    ts: int
    privileges: dict[int, int]


class _Reader:
    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def take(self, fmt: str):
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.data):
            raise ValueError("truncated token")
        (value,) = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += size
        return value

    def string(self) -> bytes:
        n = self.take("<H")
        if self.pos + n > len(self.data):
            raise ValueError("truncated token")
        value = self.data[self.pos : self.pos + n]
        self.pos += n
        return value


def decode_006(token: str) -> Decoded006:
    if not token.startswith("006") or len(token) < 36:
        raise ValueError("not a 006 token")
    app_id = token[3:35]
    outer = _Reader(base64.b64decode(token[35:], validate=True))
    signature = outer.string()
    crc_channel = outer.take("<I")
    crc_uid = outer.take("<I")
    message = outer.string()
    inner = _Reader(message)
    salt, ts = inner.take("<I"), inner.take("<I")
    privileges = {}
    for _ in range(inner.take("<H")):
        key = inner.take("<H")
        privileges[key] = inner.take("<I")
    return Decoded006(app_id, signature, crc_channel, crc_uid, message, salt, ts, privileges)


def verify_006(token: str, *, app_id: str, certificate: str, channel: str, uid: int | str) -> Decoded006:
    """Decode and check app id, channel and uid checksums and the HMAC; raises ValueError when any fails."""
    decoded = decode_006(token)
    uid_str = "" if uid == 0 else str(uid)
    if decoded.app_id != app_id:
        raise ValueError("app id differs")
    if decoded.crc_channel != crc32(channel.encode()) & 0xFFFFFFFF:
        raise ValueError("channel checksum differs")
    if decoded.crc_uid != crc32(uid_str.encode()) & 0xFFFFFFFF:
        raise ValueError("uid checksum differs")
    signed = app_id.encode() + channel.encode() + uid_str.encode() + decoded.message
    expected = hmac.new(certificate.encode(), signed, sha256)
    if not hmac.compare_digest(expected.digest(), decoded.signature):
        raise ValueError("signature does not verify")
    return decoded
