"""Agora 006 tokens: the official vector, and our tokens decode to the right channel, uid, role and expiry."""

import time
from types import SimpleNamespace

import pytest
from agora_token_builder import AccessToken as access_token_module
from agora_token_builder.RtcTokenBuilder import Role_Publisher, Role_Subscriber, RtcTokenBuilder
from django.test import override_settings

from apps.live.agora import RtcRole, rtc_token_build, rtm_token_build
from apps.live.exceptions import AgoraNotConfigured
from tests.live.agora_verify import JOIN, PUBLISH_AUDIO, PUBLISH_DATA, PUBLISH_VIDEO, RTM_LOGIN, verify_006

APP = "970CA35de60c44645bbae8a215061b33"
CERT = "5CFd2fd1755d40ecb72977518be15d3b"
CHANNEL = "7d72365eb983485397e3e3f9d460bdda"
UID = 2882341273
EXPIRY = 1446455471
SUBSCRIBER = (
    "006970CA35de60c44645bbae8a215061b33IACV0fZUBw+72cVoL9eyGGh3Q6Poi8bgjwVLnyKSJyOXR7dIfRBXoFHlEAABAAAAR/QQAAEAAQ"
    "CvKDdW"
)
PUBLISHER = (
    "006970CA35de60c44645bbae8a215061b33IACMv3I+fsRSejxy6luEwzA/1t/zbEHWfJCJ5m8ssFP/fLdIfRBXoFHlIgABAAAAR/QQAAQAAQCvKDdW"
    "AgCvKDdWAwCvKDdWBACvKDdW"
)
agora_on = override_settings(AGORA_APP_ID=APP, AGORA_APP_CERTIFICATE=CERT, AGORA_TOKEN_TTL_SECONDS=3600)


@pytest.mark.parametrize(
    ("vector", "privileges"),
    [
        (SUBSCRIBER, {JOIN: EXPIRY}),
        (PUBLISHER, dict.fromkeys((JOIN, PUBLISH_AUDIO, PUBLISH_VIDEO, PUBLISH_DATA), EXPIRY)),
    ],
)
def test_the_verifier_accepts_the_official_vectors_and_refuses_tampering(vector, privileges):
    decoded = verify_006(vector, app_id=APP, certificate=CERT, channel=CHANNEL, uid=UID)
    assert (decoded.salt, decoded.ts, decoded.privileges) == (1, 1111111, privileges)
    with pytest.raises(ValueError, match="signature"):
        verify_006(vector, app_id=APP, certificate=CERT.lower(), channel=CHANNEL, uid=UID)
    with pytest.raises(ValueError, match="channel"):
        verify_006(vector, app_id=APP, certificate=CERT, channel=CHANNEL + "x", uid=UID)
    with pytest.raises(ValueError, match="uid"):
        verify_006(vector, app_id=APP, certificate=CERT, channel=CHANNEL, uid=UID + 1)


@pytest.mark.parametrize(("role", "vector"), [(Role_Subscriber, SUBSCRIBER), (Role_Publisher, PUBLISHER)])
def test_the_library_reproduces_the_official_vectors(monkeypatch, role, vector):
    # given the salt and the token's own ts fixed as in Agora's vector
    monkeypatch.setattr(
        access_token_module, "secrets", SimpleNamespace(SystemRandom=lambda: SimpleNamespace(randint=lambda a, b: 1))
    )
    monkeypatch.setattr(access_token_module, "time", SimpleNamespace(time=lambda: 1111111 - 24 * 3600))
    assert RtcTokenBuilder.buildTokenWithUid(APP, CERT, CHANNEL, UID, role, EXPIRY) == vector


@agora_on
def test_publisher_and_subscriber_tokens_are_bound_to_channel_uid_role_and_expiry():
    before = int(time.time())
    publisher = rtc_token_build(channel="hbchannel", uid=42, role=RtcRole.PUBLISHER)
    subscriber = rtc_token_build(channel="hbchannel", uid=43, role=RtcRole.SUBSCRIBER)

    pub = verify_006(publisher.token, app_id=APP, certificate=CERT, channel="hbchannel", uid=42)
    sub = verify_006(subscriber.token, app_id=APP, certificate=CERT, channel="hbchannel", uid=43)
    assert before + 3600 <= publisher.expires_at <= int(time.time()) + 3600
    assert pub.privileges == dict.fromkeys((JOIN, PUBLISH_AUDIO, PUBLISH_VIDEO, PUBLISH_DATA), publisher.expires_at)
    assert sub.privileges == {JOIN: subscriber.expires_at}  # join only: a viewer cannot publish
    with pytest.raises(ValueError):
        verify_006(subscriber.token, app_id=APP, certificate=CERT, channel="hbchannel", uid=42)


@agora_on
def test_rtm_token_logs_in_the_users_id():
    rtm = rtm_token_build(uid=42)
    decoded = verify_006(rtm.token, app_id=APP, certificate=CERT, channel="42", uid=0)
    assert decoded.privileges == {RTM_LOGIN: rtm.expires_at}


@agora_on
@override_settings(AGORA_TOKEN_TTL_SECONDS=120)
def test_expiry_follows_the_setting():
    token = rtc_token_build(channel="c", uid=7, role=RtcRole.SUBSCRIBER)
    assert abs(token.expires_at - (time.time() + 120)) < 5


@agora_on
@pytest.mark.parametrize("uid", [0, -1, 2**32, 1001.0, "1001", True])
def test_uids_that_would_sign_something_else_are_refused(uid):
    with pytest.raises(ValueError):
        rtc_token_build(channel="c", uid=uid, role=RtcRole.PUBLISHER)


@override_settings(AGORA_APP_ID="", AGORA_APP_CERTIFICATE="")
def test_without_credentials_building_says_agora_is_not_configured():
    with pytest.raises(AgoraNotConfigured):
        rtc_token_build(channel="c", uid=7, role=RtcRole.PUBLISHER)
