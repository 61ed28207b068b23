"""WebSocket authentication (apps/accounts/channels_auth.py) through the real ASGI application.

transaction=True: database_sync_to_async closes the connection a wrapping test transaction would need.
"""

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator

from apps.accounts import services
from halobuzz.asgi import application


async def hello(path: str, subprotocols: list[str] | None = None) -> tuple[dict, str | None]:
    communicator = WebsocketCommunicator(application, path, subprotocols=subprotocols)
    connected, subprotocol = await communicator.connect(timeout=5)
    assert connected
    event = await communicator.receive_json_from(timeout=5)
    await communicator.disconnect()
    return event, subprotocol


def authenticated(path: str, subprotocols: list[str] | None = None) -> bool:
    event, _ = async_to_sync(hello)(path, subprotocols)
    assert event["type"] == "hello"
    return event["payload"]["authenticated"]


@pytest.mark.django_db(transaction=True)
def test_a_token_in_the_query_string_or_the_subprotocol_authenticates(user):
    access = services.tokens_issue(user=user)["access"]
    assert authenticated(f"/ws/health/?token={access}")
    event, subprotocol = async_to_sync(hello)("/ws/health/", ["jwt", access])
    assert event["payload"]["authenticated"] and subprotocol == "jwt"


@pytest.mark.django_db(transaction=True)
def test_no_token_or_a_bad_one_is_anonymous(user):
    access = services.tokens_issue(user=user)["access"]
    assert not authenticated("/ws/health/")
    assert not authenticated("/ws/health/?token=garbage")
    assert not authenticated(f"/ws/health/?token={access[:-4]}AAAA")


@pytest.mark.django_db(transaction=True)
def test_a_logged_out_access_token_is_anonymous(user):
    tokens = services.tokens_issue(user=user)
    services.user_logout(user=user, refresh=tokens["refresh"], access=_access(tokens["access"]))
    assert not authenticated(f"/ws/health/?token={tokens['access']}")


@pytest.mark.django_db(transaction=True)
def test_a_banned_user_is_anonymous_and_unbanning_restores(user):
    access = services.tokens_issue(user=user)["access"]
    services.user_ban(user=user, days=1, reason="spam")
    assert not authenticated(f"/ws/health/?token={access}")
    services.user_unban(user=user)
    # the ban ended every session: a new sign-in works, the token from before the ban stays refused
    assert authenticated(f"/ws/health/?token={services.tokens_issue(user=user)['access']}")
    assert not authenticated(f"/ws/health/?token={access}")


def _access(raw: str):
    from rest_framework_simplejwt.tokens import AccessToken

    return AccessToken(raw)
