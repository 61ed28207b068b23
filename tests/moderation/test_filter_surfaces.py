"""The word filter beyond chat: names are refused (name_not_allowed), titles, bios, captions and
reel comments are masked, each through the API."""

import pytest
from rest_framework.test import APIClient

from apps.accounts.models import User
from apps.live.models import Stream
from apps.reels.models import ReelComment
from tests.core.errors import assert_error, assert_nothing_written, db_snapshot
from tests.reels.factories import ReelFactory

pytestmark = pytest.mark.django_db

SIGNUP = "/api/v1/auth/signup/"
ME = "/api/v1/me/"
STRONG = "sagarmatha-sunrise-8848"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("username", "xX_fuck_Xx"),
        ("username", "big.a55"),
        ("username", "muji_boy"),
        ("display_name", "Sh1t Lord"),
        ("display_name", "मुजी"),
        ("display_name", "f u c k"),
    ],
)
def test_signup_refuses_a_name_with_a_banned_word(field, value):
    # given an otherwise valid sign-up
    payload = {"username": "sita_sings", "password": STRONG, "email": "sita@example.com", "display_name": "Sita"}
    payload[field] = value
    before = db_snapshot()
    # when it is sent
    response = APIClient().post(SIGNUP, payload, format="json")
    # then it is refused with the field named, and no account is made
    body = assert_error(response, 400, "name_not_allowed")
    assert body["details"] == {"field": field}
    assert_nothing_written(before)


def test_signup_accepts_ordinary_names_that_resemble_banned_words():
    payload = {"username": "scunthorpe_fan", "password": STRONG, "email": "s@example.com", "display_name": "Assistant"}
    assert APIClient().post(SIGNUP, payload, format="json").status_code == 201


def test_profile_refuses_a_display_name_and_masks_a_bio(auth_client, user):
    client = auth_client(user)
    # a display name with a banned word is refused, and the old one stays
    body = assert_error(client.patch(ME, {"display_name": "b1tch queen"}, format="json"), 400, "name_not_allowed")
    assert body["details"] == {"field": "display_name"}
    user.refresh_from_db()
    assert "b1tch" not in user.display_name
    # a bio is masked, the rest kept
    response = client.patch(ME, {"bio": "I sing, no sh1t. Pokhara"}, format="json")
    assert response.status_code == 200, response.json()
    assert User.objects.get(pk=user.pk).bio == "I sing, no ****. Pokhara"


def test_stream_title_is_masked(auth_client, user):
    response = auth_client(user).post("/api/v1/streams/", {"title": "f.u.c.k mondays, chiya time"}, format="json")
    assert response.status_code == 201, response.json()
    assert Stream.objects.get(host=user).title == "******* mondays, chiya time"


def test_reel_comment_is_masked(auth_client, user):
    reel = ReelFactory()
    response = auth_client(user).post(f"/api/v1/reels/{reel.pk}/comments/", {"text": "r@ndi video"}, format="json")
    assert response.status_code == 201, response.json()
    assert ReelComment.objects.get().text == "***** video"
