"""The web room page takes a deleted chat message off the screen (`chat.deleted`)."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.contrib.auth.hashers import make_password
from django.db import connection
from playwright.sync_api import expect

from apps.live.services import stream_message_delete
from tests.accounts.factories import TEST_PASSWORD, UserFactory
from tests.live.factories import LiveStreamFactory
from tests.live.test_browser import room_frames  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _delete_and_close(**kwargs):
    try:
        return stream_message_delete(**kwargs)
    finally:
        connection.close()


def test_a_deleted_message_leaves_the_room_page(daphne_server, page, room_frames):  # noqa: F811
    # given a viewer signed in on the room page who chatted twice
    stream = LiveStreamFactory()
    viewer = UserFactory(display_name="Hari")
    viewer.password = make_password(TEST_PASSWORD, hasher="pbkdf2_sha256")
    viewer.save(update_fields=["password"])
    page.goto(f"{daphne_server.http}/streams/{stream.pk}/watch/")
    page.fill("#login-identifier", viewer.username)
    page.fill("#login-password", TEST_PASSWORD)
    page.click("#login-submit")
    expect(page.locator("#connection")).to_have_text("online")
    for text in ("first message", "second message"):
        page.fill("#chat-input", text)
        page.click("#chat-send")
        expect(page.locator("#chat-list li.chat-message").last).to_contain_text(text)
    first = next(
        f["payload"] for f in room_frames if f["type"] == "chat.message" and f["payload"]["text"] == "first message"
    )

    # when the host deletes the first one (in a thread: Playwright's loop runs in this one)
    with ThreadPoolExecutor(1) as pool:
        pool.submit(
            _delete_and_close, stream_id=stream.pk, by=stream.host, message_id=first["id"], message=first
        ).result()

    # then it is gone from the page and the second stays
    expect(page.locator("#chat-list li.chat-message")).to_have_count(1)
    expect(page.locator("#chat-list li.chat-message")).to_contain_text("second message")
