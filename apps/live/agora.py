"""Agora RTC and RTM tokens (format 006, built by agora-token-builder).

A token is bound to one channel, the user's numeric uid (the user id) and a role, and expires at
an absolute unix time (`privilegeExpiredTs`; agora-token-builder takes absolute seconds, not a
duration). Never log tokens or the certificate.
"""

import time
from dataclasses import dataclass
from enum import StrEnum

from agora_token_builder.RtcTokenBuilder import Role_Publisher, Role_Subscriber, RtcTokenBuilder
from agora_token_builder.RtmTokenBuilder import Role_Rtm_User, RtmTokenBuilder
from django.conf import settings

from apps.live.exceptions import AgoraNotConfigured

UINT32_MAX = 2**32 - 1


class RtcRole(StrEnum):
    PUBLISHER = "publisher"
    SUBSCRIBER = "subscriber"


@dataclass(frozen=True)
class RtcToken:
    token: str
    channel: str
    uid: int
    role: RtcRole
    expires_at: int  # unix seconds

    def as_dict(self) -> dict:
        return {
            "app_id": settings.AGORA_APP_ID,
            "token": self.token,
            "channel": self.channel,
            "uid": self.uid,
            "role": str(self.role),
            "expires_at": self.expires_at,
        }


@dataclass(frozen=True)
class RtmToken:
    token: str
    user_account: str
    expires_at: int

    def as_dict(self) -> dict:
        return {
            "app_id": settings.AGORA_APP_ID,
            "token": self.token,
            "user": self.user_account,
            "expires_at": self.expires_at,
        }


def agora_configured() -> bool:
    return bool(settings.AGORA_APP_ID and settings.AGORA_APP_CERTIFICATE)


def _expiry() -> int:
    return int(time.time()) + int(settings.AGORA_TOKEN_TTL_SECONDS)


def _check(uid: int) -> None:
    if not agora_configured():
        raise AgoraNotConfigured()
    # uid 0 would let any uid join with the token; floats or strings would sign another uid.
    if not isinstance(uid, int) or isinstance(uid, bool) or not 0 < uid <= UINT32_MAX:
        raise ValueError("Agora uid must be an int in 1..2**32-1")


def rtc_token_build(*, channel: str, uid: int, role: RtcRole) -> RtcToken:
    _check(uid)
    expires_at = _expiry()
    agora_role = Role_Publisher if role == RtcRole.PUBLISHER else Role_Subscriber
    token = RtcTokenBuilder.buildTokenWithUid(
        settings.AGORA_APP_ID, settings.AGORA_APP_CERTIFICATE, channel, uid, agora_role, expires_at
    )
    return RtcToken(token=token, channel=channel, uid=uid, role=role, expires_at=expires_at)


def rtm_token_build(*, uid: int) -> RtmToken:
    """RTM login token for the user's id as the RTM user account (privilege 1000)."""
    _check(uid)
    expires_at = _expiry()
    token = RtmTokenBuilder.buildToken(
        settings.AGORA_APP_ID, settings.AGORA_APP_CERTIFICATE, str(uid), Role_Rtm_User, expires_at
    )
    return RtmToken(token=token, user_account=str(uid), expires_at=expires_at)
