"""The web room page in headless Chromium against a real daphne: sign in, chat, like, see a gift arrive."""

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.contrib.auth.hashers import make_password
from django.db import connection
from playwright.sync_api import expect

from apps.gifts.services import gift_send
from tests.accounts.factories import TEST_PASSWORD, UserFactory
from tests.gifts.factories import GiftFactory
from tests.live.factories import LiveStreamFactory
from tests.live.room_contract import room_frame_check
from tests.wallet.factories import fund

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _gift_send_and_close(**kwargs):
    try:
        return gift_send(**kwargs)
    finally:
        connection.close()


@pytest.fixture
def room_frames(page):
    """The room frames the page's WebSocket receives; each is checked against the room contract at the end."""
    frames: list[dict] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: frames.append(json.loads(payload))))
    yield frames
    for frame in frames:
        room_frame_check(frame)


def test_the_room_page_chats_likes_and_shows_gifts_live(daphne_server, page, room_frames):
    # given a live stream, a viewer with an account and a fan with coins
    stream = LiveStreamFactory(title="Evening songs")
    viewer, fan = UserFactory(display_name="Hari"), UserFactory(display_name="Gita")
    gift = GiftFactory(name="Rhododendron", coin_price=50)
    fund(fan, 500)
    # The suite hashes with MD5 for speed; daphne runs the production hashers, so store a PBKDF2 hash.
    viewer.password = make_password(TEST_PASSWORD, hasher="pbkdf2_sha256")
    viewer.save(update_fields=["password"])

    # when the viewer opens the page and signs in on it
    page.goto(f"{daphne_server.http}/streams/{stream.pk}/watch/")
    expect(page.locator("#stream-title")).to_have_text("Evening songs")
    expect(page.locator("#login-form")).to_be_visible()
    page.fill("#login-identifier", viewer.username)
    page.fill("#login-password", TEST_PASSWORD)
    page.click("#login-submit")
    expect(page.locator("#connection")).to_have_text("online")
    expect(page.locator("#viewer-count")).to_have_text("1")
    # the sign-in form is gone once signed in (the `hidden` attribute must win over the form's layout)
    expect(page.locator("#login-form")).to_be_hidden()

    # then a chat message goes round the room and comes back on the page
    page.fill("#chat-input", "namaste from the browser")
    page.click("#chat-send")
    expect(page.locator("#chat-list li.chat-message").last).to_contain_text("namaste from the browser")
    expect(page.locator("#chat-list li.chat-message").last).to_contain_text("Hari")

    # and a like is counted
    page.click("#like-button")
    expect(page.locator("#like-count")).to_have_text("1")

    # and a gift sent through the gift service appears live (in a thread: Playwright's loop runs in this one)
    with ThreadPoolExecutor(1) as pool:
        pool.submit(_gift_send_and_close, sender_id=fan.pk, stream_id=stream.pk, gift_id=gift.pk, quantity=3).result()
    expect(page.locator("#gift-list li")).to_contain_text("Gita sent Rhododendron ×3 (150 coins)")
    assert {"room.welcome", "chat.message", "gift.combo"} <= {frame["type"] for frame in room_frames}


def test_the_room_page_of_an_unknown_stream_is_404(daphne_server, page):
    response = page.goto(f"{daphne_server.http}/streams/987654/watch/")
    assert response.status == 404
