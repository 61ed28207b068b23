"""End to end with a real Celery worker process against Redis and PostgreSQL:
upload → task on the broker → scored in the worker → queued, or the stream ended and the room told."""

import asyncio
import time

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection

from apps.live.events import layer_message_events, stream_group_name
from apps.live.models import Stream
from apps.moderation import services
from apps.moderation.classifier import nsfw_classifier
from apps.moderation.models import Case, Enforcement, Frame
from apps.moderation.selectors import moderation_settings_get
from tests.moderation.factories import LiveStreamFactory, upload
from tests.moderation.images import ASTRONAUT, verdict_score

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
URL = "/api/v1/moderation/frames/"


def _thresholds(review: float, block: float) -> None:
    row = moderation_settings_get()
    row.nsfw_review_threshold, row.nsfw_block_threshold = review, block
    row.save()
    services.moderation_settings_cache_clear()  # the worker reads the settings through the same Redis cache


def _wait_scored(frame_id: int, timeout: float = 60) -> Frame:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        frame = Frame.objects.get(pk=frame_id)
        if frame.status not in (Frame.Status.PENDING, Frame.Status.SCORING):
            return frame
        time.sleep(0.1)
    raise AssertionError(f"frame {frame_id} not scored within {timeout} s")


def test_worker_scores_a_frame_into_the_queue(celery_worker_process, not_eager, auth_client):
    # given review at 0.02: the astronaut portrait (0.0317; about 0.026 in int8) is above it
    _thresholds(0.02, 0.5)
    stream = LiveStreamFactory()
    # when the host uploads a frame
    image = upload(ASTRONAUT)
    response = auth_client(stream.host).post(URL, {"stream_id": stream.pk, "image": image}, format="multipart")
    assert response.status_code == 202
    # then the worker process scores it and the moderator queue has it
    frame = _wait_scored(response.json()["id"])
    assert frame.status == Frame.Status.REVIEW, celery_worker_process.tail()
    assert abs(frame.score - verdict_score(ASTRONAUT, 0.02)) < 0.0005  # near review: fp32's
    # by the configured model (the int8 graph by default), as the verdict records
    assert frame.model_version == nsfw_classifier().version and frame.model_version.endswith("+ort1.32.0-int8")
    case = Case.objects.get(frame=frame)
    assert case.kind == Case.Kind.FRAME and case.status == Case.Status.OPEN
    assert Stream.objects.get(pk=stream.pk).status == Stream.Status.LIVE


def test_worker_ends_the_stream_and_the_room_is_told(celery_worker_process, not_eager, auth_client):
    # given block at 0.02 and someone listening in the stream's room (the channel layer group)
    _thresholds(0.01, 0.02)
    stream = LiveStreamFactory()
    client = auth_client(stream.host)

    def upload_frame():
        try:
            image = upload(ASTRONAUT)
            return client.post(URL, {"stream_id": stream.pk, "image": image}, format="multipart")
        finally:
            connection.close()  # this thread's own connection must not outlive the test database

    async def listen_while_uploading() -> tuple[dict, int]:
        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.group_add(stream_group_name(stream.pk), channel)
        try:
            # when the host uploads a frame scoring 0.0317
            response = await asyncio.to_thread(upload_frame)
            assert response.status_code == 202
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                message = await asyncio.wait_for(layer.receive(channel), timeout=deadline - time.monotonic())
                for event in layer_message_events(message) or []:
                    if event["type"] == "stream.ended":
                        return event, response.json()["id"]
            raise AssertionError("no stream.ended event")
        finally:
            await layer.group_discard(stream_group_name(stream.pk), channel)

    event, frame_id = async_to_sync(listen_while_uploading)()
    # then the room hears that moderation ended the stream
    assert event["payload"]["by_moderation"] is True and event["payload"]["stream_id"] == stream.pk
    # and the stream is ended, the frame blocked and kept, the host has a strike
    frame = _wait_scored(frame_id)
    assert frame.status == Frame.Status.BLOCKED
    assert Stream.objects.get(pk=stream.pk).status == Stream.Status.ENDED_BY_MODERATION
    assert Enforcement.objects.filter(user=stream.host, kind=Enforcement.Kind.STRIKE, frame=frame).exists()
