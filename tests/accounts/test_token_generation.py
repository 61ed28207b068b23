"""Revoking every session at once: a password change, a ban and logout-everywhere bump the user's
token generation, so every access and refresh token issued before is refused at once."""

import pytest
from django.conf import settings
from django.core.cache import cache
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from apps.accounts import services
from apps.accounts.models import User
from apps.accounts.tokens import access_token_revoked
from tests.accounts.factories import TEST_PASSWORD
from tests.core.errors import assert_error

LOGIN = "/api/v1/auth/login/"
REFRESH = "/api/v1/auth/refresh/"
LOGOUT_ALL = "/api/v1/auth/logout-all/"
ME = "/api/v1/me/"
PASSWORD = "/api/v1/me/password/"
GIFT_SEND = "/api/v1/gifts/send/"
STRONG = "sagarmatha-sunrise-8848"


def bearer(access: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


def password_change(user: User, session: dict[str, str]) -> None:
    response = bearer(session["access"]).post(
        PASSWORD, {"old_password": TEST_PASSWORD, "new_password": STRONG}, format="json"
    )
    assert response.status_code == 204


def ban(user: User, session: dict[str, str]) -> None:
    services.user_ban(user=user, days=3, reason="abuse")


def logout_everywhere(user: User, session: dict[str, str]) -> None:
    assert bearer(session["access"]).post(LOGOUT_ALL).status_code == 204


REVOKERS = [password_change, ban, logout_everywhere]


@pytest.mark.django_db
@pytest.mark.parametrize("revoke", REVOKERS)
def test_every_earlier_access_and_refresh_token_is_refused_at_once(user, revoke, django_capture_on_commit_callbacks):
    # given two sessions of one user (two phones), both working
    first, second = services.tokens_issue(user=user), services.tokens_issue(user=user)
    assert bearer(second["access"]).get(ME).status_code == 200

    # when the password is changed / the user is banned / they log out everywhere (and that commits)
    with django_capture_on_commit_callbacks(execute=True):
        revoke(user, first)

    # then neither access token works on the API (also on the hot, row-less gift endpoint) and no refresh works
    for session in (first, second):
        assert_error(bearer(session["access"]).get(ME), 401)
        assert_error(bearer(session["access"]).post(GIFT_SEND, {"stream": 1, "gift": 1}, format="json"), 401)
        assert APIClient().post(REFRESH, {"refresh": session["refresh"]}, format="json").status_code in (401, 403)


@pytest.mark.django_db
@pytest.mark.parametrize("revoke", [password_change, logout_everywhere])
def test_a_new_login_after_the_revocation_works(user, revoke):
    revoke(user, services.tokens_issue(user=user))
    password = STRONG if revoke is password_change else TEST_PASSWORD

    response = APIClient().post(LOGIN, {"identifier": user.username, "password": password}, format="json")

    assert response.status_code == 200
    tokens = response.json()["tokens"]
    assert bearer(tokens["access"]).get(ME).status_code == 200
    assert APIClient().post(REFRESH, {"refresh": tokens["refresh"]}, format="json").status_code == 200


@pytest.mark.django_db
def test_the_generation_is_kept_in_the_database_when_redis_forgets_it(user, django_capture_on_commit_callbacks):
    # given a session revoked by logout-everywhere
    session = services.tokens_issue(user=user)
    with django_capture_on_commit_callbacks(execute=True):
        logout_everywhere(user, session)

    # when the cache loses every key (a Redis restart without persistence)
    cache.clear()

    # then the old token is still refused: the generation is read back from the user's row
    assert_error(bearer(session["access"]).get(ME), 401)
    assert bearer(services.tokens_issue(user=User.objects.get(pk=user.pk))["access"]).get(ME).status_code == 200


@pytest.mark.django_db
def test_logout_everywhere_needs_authentication():
    assert_error(APIClient().post(LOGOUT_ALL), 401, "not_authenticated")


@pytest.mark.django_db
@pytest.mark.skipif(not settings.REDIS_URL, reason="counts Redis commands")
def test_the_revocation_and_generation_check_is_one_redis_round_trip(user, django_assert_num_queries):
    import redis

    token = AccessToken(services.tokens_issue(user=user)["access"])  # type: ignore[arg-type]
    client = redis.Redis.from_url(settings.REDIS_URL)

    def calls(name: str) -> int:
        return client.info("commandstats").get(f"cmdstat_{name}", {}).get("calls", 0)

    before = {name: calls(name) for name in ("mget", "get", "exists")}
    with django_assert_num_queries(0):  # and no row read while Redis has the generation
        assert access_token_revoked(token) is False
    assert {name: calls(name) - before[name] for name in before} == {"mget": 1, "get": 0, "exists": 0}


@pytest.mark.django_db
@pytest.mark.skipif(not settings.REDIS_URL, reason="counts Redis commands")
def test_the_stateless_authentication_learns_the_saved_language_in_the_same_script(user, django_assert_num_queries):
    import redis
    from rest_framework.test import APIRequestFactory

    from apps.accounts.authentication import JwtStatelessAuthentication

    # given a user who saved Nepali, signed in (login caches the generation and the language)
    services.user_update_profile(user=user, data={"language": "ne"})
    access = services.tokens_issue(user=user)["access"]
    request = APIRequestFactory().post(GIFT_SEND, HTTP_AUTHORIZATION=f"Bearer {access}")
    client = redis.Redis.from_url(settings.REDIS_URL)

    def calls(name: str) -> int:
        return client.info("commandstats").get(f"cmdstat_{name}", {}).get("calls", 0)

    warm_up = APIRequestFactory().post(GIFT_SEND, HTTP_AUTHORIZATION=f"Bearer {access}")
    JwtStatelessAuthentication().authenticate(warm_up)

    # when the gift endpoint's authentication runs (its script already known to Redis)
    before = {name: calls(name) for name in ("evalsha", "mget", "eval")}
    with django_assert_num_queries(0):
        JwtStatelessAuthentication().authenticate(request)

    # then one script told it everything, and the request speaks Nepali
    assert {name: calls(name) - before[name] for name in before} == {"evalsha": 1, "mget": 0, "eval": 0}
    assert request.LANGUAGE_CODE == "ne"
