"""Sign-up, login, token refresh and revocation, password change, bans."""

from datetime import date, timedelta

import pytest
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from apps.accounts import services
from apps.accounts.models import User
from tests.accounts.factories import TEST_PASSWORD, UserFactory
from tests.core.errors import assert_error, assert_nothing_written, db_snapshot

SIGNUP = "/api/v1/auth/signup/"
LOGIN = "/api/v1/auth/login/"
REFRESH = "/api/v1/auth/refresh/"
LOGOUT = "/api/v1/auth/logout/"
ME = "/api/v1/me/"
PASSWORD = "/api/v1/me/password/"
STRONG = "sagarmatha-sunrise-8848"


def years_ago(years: int, today: date | None = None) -> date:
    today = today or timezone.localdate()
    try:
        return today.replace(year=today.year - years)
    except ValueError:  # 29 February
        return today.replace(year=today.year - years, day=28)


def tamper(token: str) -> str:
    """The token with one signature character changed (a middle one: the last carries padding bits)."""
    head, signature = token.rsplit(".", 1)
    changed = "A" if signature[10] != "A" else "B"
    return f"{head}.{signature[:10]}{changed}{signature[11:]}"


def bearer(access: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


def login(identifier: str, password: str = TEST_PASSWORD):
    return APIClient().post(LOGIN, {"identifier": identifier, "password": password}, format="json")


# --- Sign-up ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_signup_with_email_creates_the_user_and_signs_them_in():
    # given a new visitor
    payload = {"username": "sita_sings", "password": STRONG, "email": "sita@example.com", "display_name": "Sita"}

    # when they sign up
    response = APIClient().post(SIGNUP, payload, format="json")

    # then the account exists with a hashed password, Nepal as country, and the tokens work
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["user"]["username"] == "sita_sings"
    assert body["user"]["country"] == "NP"
    assert body["user"]["is_adult"] is False  # no date of birth yet
    user = User.objects.get(username="sita_sings")
    assert user.check_password(STRONG) and user.password != STRONG
    me = bearer(body["tokens"]["access"]).get(ME)
    assert me.status_code == 200 and me.json()["id"] == user.pk
    assert OutstandingToken.objects.filter(user=user).count() == 1


@pytest.mark.django_db
def test_signup_with_phone_only():
    response = APIClient().post(
        SIGNUP, {"username": "ram", "password": STRONG, "phone": "+9779801234567"}, format="json"
    )
    assert response.status_code == 201, response.json()
    user = User.objects.get(username="ram")
    assert user.phone == "+9779801234567" and user.email is None


@pytest.mark.django_db
def test_signup_needs_an_email_or_a_phone():
    before = db_snapshot()
    response = APIClient().post(SIGNUP, {"username": "nobody", "password": STRONG}, format="json")
    body = assert_error(response, 400, "invalid")
    assert "email" in body["details"]
    assert_nothing_written(before)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "username",
    ["ab", "a" * 31, "has space", "dash-ed", "at@sign", "émile", "", "semi;colon", "new\nline", "   "],
)
def test_signup_refuses_bad_usernames(username):
    before = db_snapshot()
    response = APIClient().post(
        SIGNUP, {"username": username, "password": STRONG, "email": "x@example.com"}, format="json"
    )
    body = assert_error(response, 400, "invalid")
    assert "username" in body["details"]
    assert_nothing_written(before)


@pytest.mark.django_db
def test_signup_refuses_a_taken_username_email_or_phone_whatever_the_case():
    # given an existing user with an email and a phone
    UserFactory(username="Hari", email="hari@example.com", phone="+9779800000001")
    client = APIClient()
    before = db_snapshot()

    # when others try the same identifiers in another case
    taken_name = client.post(SIGNUP, {"username": "hARI", "password": STRONG, "email": "o@x.io"}, format="json")
    taken_mail = client.post(
        SIGNUP, {"username": "other1", "password": STRONG, "email": "HARI@Example.com"}, format="json"
    )
    taken_phone = client.post(
        SIGNUP, {"username": "other2", "password": STRONG, "phone": "+9779800000001"}, format="json"
    )

    # then each is refused on its field and nothing is created
    assert "username" in assert_error(taken_name, 400, "invalid")["details"]
    assert "email" in assert_error(taken_mail, 400, "invalid")["details"]
    assert "phone" in assert_error(taken_phone, 400, "invalid")["details"]
    assert_nothing_written(before)


@pytest.mark.django_db
def test_signup_stores_the_email_domain_in_lower_case_and_login_finds_it():
    response = APIClient().post(
        SIGNUP, {"username": "gita", "password": STRONG, "email": "Gita.Rai@GMAIL.com"}, format="json"
    )
    assert response.status_code == 201
    assert User.objects.get(username="gita").email == "Gita.Rai@gmail.com"
    assert login("gita.rai@gmail.COM", STRONG).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize(
    "password",
    ["password123", "12345678901234", "Sh0rt!", "sita_sings_2026"],
    ids=["common", "numeric", "short", "like-the-username"],
)
def test_signup_validates_the_password(password):
    before = db_snapshot()
    response = APIClient().post(
        SIGNUP, {"username": "sita_sings_2026", "password": password, "email": "sita@example.com"}, format="json"
    )
    body = assert_error(response, 400, "invalid")
    assert "password" in body["details"]
    assert_nothing_written(before)


@pytest.mark.django_db
def test_signup_keeps_spaces_in_passwords():
    # given a password with surrounding spaces
    password = f"  {STRONG}  "

    # when the user signs up with it
    response = APIClient().post(SIGNUP, {"username": "spacey", "password": password, "email": "s@x.io"}, format="json")

    # then exactly that password works (the admin login does not strip it either)
    assert response.status_code == 201
    user = User.objects.get(username="spacey")
    assert user.check_password(password)
    assert login("spacey", password).status_code == 200
    assert login("spacey", STRONG).status_code == 401


@pytest.mark.django_db
@override_settings(MIN_SIGNUP_AGE=13)
def test_signup_refuses_the_under_age_and_accepts_a_thirteenth_birthday():
    client = APIClient()
    before = db_snapshot()
    too_young = years_ago(13) + timedelta(days=1)
    future = timezone.localdate() + timedelta(days=30)

    young = client.post(
        SIGNUP,
        {"username": "kiddo", "password": STRONG, "email": "k@x.io", "date_of_birth": str(too_young)},
        format="json",
    )
    unborn = client.post(
        SIGNUP,
        {"username": "unborn", "password": STRONG, "email": "u@x.io", "date_of_birth": str(future)},
        format="json",
    )

    assert "date_of_birth" in assert_error(young, 400, "invalid")["details"]
    assert "date_of_birth" in assert_error(unborn, 400, "invalid")["details"]
    assert_nothing_written(before)
    ok = client.post(
        SIGNUP,
        {"username": "teen", "password": STRONG, "email": "t@x.io", "date_of_birth": str(years_ago(13))},
        format="json",
    )
    assert ok.status_code == 201, ok.json()
    assert ok.json()["user"]["age"] == 13 and ok.json()["user"]["is_adult"] is False


# --- Login ------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "identifier", ["Bikash", "bikash", "bikash@example.com", "BIKASH@EXAMPLE.COM", "+9779812345678"]
)
def test_login_by_username_email_or_phone(identifier):
    # given a user with a username, an email and a phone
    user = UserFactory(username="bikash", email="bikash@example.com", phone="+9779812345678")

    # when they log in with any of them
    response = login(identifier)

    # then they get a working token pair and last_login is recorded
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["user"]["id"] == user.pk
    assert bearer(body["tokens"]["access"]).get(ME).status_code == 200
    user.refresh_from_db()
    assert user.last_login is not None


@pytest.mark.django_db
def test_login_refuses_a_wrong_password_and_an_unknown_user_alike(user):
    before = db_snapshot()
    wrong = login(user.username, "not-the-password")
    unknown = login("nobody-here", "not-the-password")
    body_wrong = assert_error(wrong, 401, "invalid_credentials")
    body_unknown = assert_error(unknown, 401, "invalid_credentials")
    assert body_wrong == body_unknown  # nothing tells which accounts exist
    assert_nothing_written(before)


@pytest.mark.django_db
def test_login_refuses_a_deactivated_account():
    user = UserFactory(is_active=False)
    assert_error(login(user.username), 401, "invalid_credentials")


# --- Refresh ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_refresh_rotates_and_the_old_refresh_is_refused_after_use(user):
    # given a session
    tokens = services.tokens_issue(user=user)
    client = APIClient()

    # when the refresh token is used
    first = client.post(REFRESH, {"refresh": tokens["refresh"]}, format="json")

    # then a new pair comes back, the old refresh is dead and the new one works
    assert first.status_code == 200, first.json()
    rotated = first.json()
    assert set(rotated) == {"access", "refresh"} and rotated["refresh"] != tokens["refresh"]
    assert bearer(rotated["access"]).get(ME).status_code == 200
    assert_error(client.post(REFRESH, {"refresh": tokens["refresh"]}, format="json"), 401, "token_invalid")
    assert client.post(REFRESH, {"refresh": rotated["refresh"]}, format="json").status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["garbage", "access", "tampered", "empty"])
def test_refresh_refuses_what_is_not_a_valid_refresh_token(user, kind):
    tokens = services.tokens_issue(user=user)
    value = {
        "garbage": "not.a.token",
        "access": tokens["access"],
        "tampered": tamper(tokens["refresh"]),
        "empty": "",
    }[kind]
    before = db_snapshot()
    response = APIClient().post(REFRESH, {"refresh": value}, format="json")
    assert_error(response, 400 if kind == "empty" else 401)
    assert_nothing_written(before)


@pytest.mark.django_db(transaction=True)
def test_refresh_racing_with_one_token_lets_exactly_one_win(race):
    # given one refresh token and eight clients that retry with it at once
    user = UserFactory()
    refresh = services.tokens_issue(user=user)["refresh"]

    # when they all refresh
    responses = race([lambda: APIClient().post(REFRESH, {"refresh": refresh}, format="json")] * 8)
    statuses = [response.status_code for response in responses]

    # then exactly one rotation happened
    assert sorted(statuses) == [200] + [401] * 7, statuses
    assert OutstandingToken.objects.filter(user=user).count() == 2  # the original and one successor


# --- Logout -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_logout_revokes_the_refresh_and_the_access_token(user):
    # given two sessions of the same user
    session = services.tokens_issue(user=user)
    other_session = services.tokens_issue(user=user)
    client = bearer(session["access"])

    # when the first logs out
    response = client.post(LOGOUT, {"refresh": session["refresh"]}, format="json")

    # then its access token gets 401 and its refresh is refused; the other session lives on
    assert response.status_code == 204
    assert_error(client.get(ME), 401)
    assert_error(APIClient().post(REFRESH, {"refresh": session["refresh"]}, format="json"), 401, "token_invalid")
    assert bearer(other_session["access"]).get(ME).status_code == 200
    assert APIClient().post(REFRESH, {"refresh": other_session["refresh"]}, format="json").status_code == 200


@pytest.mark.django_db
def test_logout_refuses_someone_elses_refresh_token(user, other_user):
    mine = services.tokens_issue(user=user)
    theirs = services.tokens_issue(user=other_user)
    before = db_snapshot()

    response = bearer(mine["access"]).post(LOGOUT, {"refresh": theirs["refresh"]}, format="json")

    assert_error(response, 401, "token_invalid")
    assert_nothing_written(before)
    assert bearer(mine["access"]).get(ME).status_code == 200  # my session is untouched too
    assert APIClient().post(REFRESH, {"refresh": theirs["refresh"]}, format="json").status_code == 200


@pytest.mark.django_db
def test_logout_needs_authentication(user):
    refresh = services.tokens_issue(user=user)["refresh"]
    assert_error(APIClient().post(LOGOUT, {"refresh": refresh}, format="json"), 401, "not_authenticated")
    assert APIClient().post(REFRESH, {"refresh": refresh}, format="json").status_code == 200


# --- Password change --------------------------------------------------------------------------


@pytest.mark.django_db
def test_password_change_revokes_outstanding_refresh_tokens(user):
    # given two sessions
    session = services.tokens_issue(user=user)
    phone_session = services.tokens_issue(user=user)

    # when the password is changed
    response = bearer(session["access"]).post(
        PASSWORD, {"old_password": TEST_PASSWORD, "new_password": STRONG}, format="json"
    )

    # then only the new password logs in, and no earlier refresh token works
    assert response.status_code == 204
    assert_error(login(user.username, TEST_PASSWORD), 401, "invalid_credentials")
    assert login(user.username, STRONG).status_code == 200
    for old in (session, phone_session):
        assert_error(APIClient().post(REFRESH, {"refresh": old["refresh"]}, format="json"), 401, "token_invalid")


@pytest.mark.django_db
def test_password_change_refuses_a_wrong_old_password_or_a_weak_new_one(user):
    client = bearer(services.tokens_issue(user=user)["access"])
    before = db_snapshot()

    wrong = client.post(PASSWORD, {"old_password": "nope-nope-nope", "new_password": STRONG}, format="json")
    weak = client.post(PASSWORD, {"old_password": TEST_PASSWORD, "new_password": "12345678"}, format="json")

    assert_error(wrong, 400, "wrong_password")
    assert "new_password" in assert_error(weak, 400, "invalid")["details"]
    assert_nothing_written(before)
    assert login(user.username).status_code == 200


# --- Bans -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_banned_user_cannot_log_in_refresh_or_use_an_access_token(user, django_capture_on_commit_callbacks):
    # given a user with a live session who gets banned
    session = services.tokens_issue(user=user)
    with django_capture_on_commit_callbacks(execute=True):
        services.user_ban(user=user, days=7, reason="spam")

    # when they use the API in every way
    logged_in = login(user.username)
    refreshed = APIClient().post(REFRESH, {"refresh": session["refresh"]}, format="json")
    me = bearer(session["access"]).get(ME)

    # then signing in and refreshing are refused as banned, saying until when and why; the access
    # token from before the ban is revoked
    for response in (logged_in, refreshed):
        body = assert_error(response, 403, "account_banned")
        assert body["details"]["reason"] == "spam"
        assert body["details"]["banned_until"].startswith(str(user.banned_until.date()))
    assert_error(me, 401)


@pytest.mark.django_db
def test_unban_restores_access(user):
    # given a banned user
    session = services.tokens_issue(user=user)
    services.user_ban(user=user, days=None, reason="abuse")
    assert_error(bearer(session["access"]).get(ME), 403, "account_banned")

    # when they are unbanned
    services.user_unban(user=user)

    # then they can log in and refresh again; the refresh revoked by the ban stays revoked
    response = login(user.username)
    assert response.status_code == 200
    assert bearer(response.json()["tokens"]["access"]).get(ME).status_code == 200
    fresh_refresh = response.json()["tokens"]["refresh"]
    assert APIClient().post(REFRESH, {"refresh": fresh_refresh}, format="json").status_code == 200
    assert_error(APIClient().post(REFRESH, {"refresh": session["refresh"]}, format="json"), 401, "token_invalid")


@pytest.mark.django_db
def test_an_expired_ban_no_longer_applies(user):
    user.banned_until = timezone.now() - timedelta(minutes=1)
    user.ban_reason = "old"
    user.save()
    assert login(user.username).status_code == 200
