"""Frame uploads (who, what images) and the verdicts (thresholds, queue, stream end, strikes, suspension)."""

import io

import pytest
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from PIL import Image

from apps.accounts.models import User
from apps.core.storage import private_storage
from apps.core.timestamps import iso_utc
from apps.live.models import Stream
from apps.moderation import services
from apps.moderation.models import Case, Enforcement, Frame, ModerationAction
from apps.moderation.selectors import moderation_settings_get
from apps.moderation.services.frames import _hot_copy_key
from tests.media import stored_names
from tests.moderation.conftest import image_bytes
from tests.moderation.factories import LiveStreamFactory, upload
from tests.moderation.images import (
    ASTRONAUT,
    CHELSEA,
    COFFEE,
    NSFW_REFERENCE_SCORES,
    nsfw_int8_scores,
    verdict_score,
)

pytestmark = pytest.mark.django_db
URL = "/api/v1/moderation/frames/"
# Known scores, lowest first: the thresholds below are set between them.
CALM, LOW, HIGHER = CHELSEA, COFFEE, ASTRONAUT  # 0.00015, 0.01295, 0.03170


def _thresholds(review: float, block: float, **more) -> None:
    row = moderation_settings_get()
    row.nsfw_review_threshold, row.nsfw_block_threshold = review, block
    for key, value in more.items():
        setattr(row, key, value)
    row.save()
    services.moderation_settings_cache_clear()


def _upload_and_score(client, stream, source, capture) -> Frame:
    with capture(execute=True):
        response = client.post(URL, {"stream_id": stream.pk, "image": upload(source)}, format="multipart")
    assert response.status_code == 202, response.json()
    return Frame.objects.get(pk=response.json()["id"])


def _media_files(settings) -> list[str]:
    return stored_names(private_storage(), "moderation/frames")


# --- Who may upload -----------------------------------------------------------------------------


def test_host_uploads_a_frame_and_learns_the_interval(auth_client, settings):
    # given a live stream
    stream = LiveStreamFactory()
    # when its host uploads a frame
    response = auth_client(stream.host).post(URL, {"stream_id": stream.pk, "image": upload()}, format="multipart")
    # then it is stored, waiting for the model, and the app learns when to send the next
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "pending" and body["next_upload_in_seconds"] == settings.MODERATION_FRAME_INTERVAL_SECONDS
    frame = Frame.objects.get(pk=body["id"])
    assert frame.host_id == stream.host_id and frame.width == 512 and frame.height == 512
    assert frame.image.storage.exists(frame.image.name)


def test_a_frame_is_stored_in_one_put_with_the_private_object_parameters(auth_client):
    # given a live stream and media in a bucket
    storage = private_storage()
    if not hasattr(storage, "connection"):
        pytest.skip("media on the filesystem: no bucket requests to count")
    stream = LiveStreamFactory()
    calls: list[str] = []
    events = storage.connection.meta.client.meta.events

    def seen(model, **kwargs) -> None:
        calls.append(model.name)

    events.register("before-call.s3", seen)
    try:
        # when its host uploads a frame
        response = auth_client(stream.host).post(URL, {"stream_id": stream.pk, "image": upload()}, format="multipart")
    finally:
        events.unregister("before-call.s3", seen)
    # then the object store got one PUT (no HEAD asking whether the uuid name is taken)
    assert response.status_code == 202
    assert calls == ["PutObject"]
    frame = Frame.objects.get(pk=response.json()["id"])
    # upload_to's %Y/%m/%d is the date where the server runs (TIME_ZONE, Kathmandu), not UTC's
    assert frame.image.name.startswith(f"moderation/frames/{timezone.localdate():%Y/%m/%d}/{stream.pk}-")
    head = storage.connection.meta.client.head_object(Bucket=storage.bucket_name, Key=frame.image.name)
    assert frame.image.name.endswith(".png")  # upload() sends a PNG
    assert head["ContentType"] == "image/png" and head["CacheControl"] == "private, no-store"


def test_viewer_cannot_upload_frames_for_someone_elses_stream(auth_client, user, settings):
    stream = LiveStreamFactory()
    files_before = _media_files(settings)
    response = auth_client(user).post(URL, {"stream_id": stream.pk, "image": upload()}, format="multipart")
    assert response.status_code == 403
    assert response.json()["code"] == "not_stream_host"
    assert not Frame.objects.exists() and _media_files(settings) == files_before


def test_host_of_another_stream_cannot_upload_for_this_one(auth_client):
    mine, theirs = LiveStreamFactory(), LiveStreamFactory()
    response = auth_client(mine.host).post(URL, {"stream_id": theirs.pk, "image": upload()}, format="multipart")
    assert response.status_code == 403 and not Frame.objects.exists()


def test_anonymous_cannot_upload(api_client):
    stream = LiveStreamFactory()
    response = api_client.post(URL, {"stream_id": stream.pk, "image": upload()}, format="multipart")
    assert response.status_code == 401 and not Frame.objects.exists()


def test_a_banned_host_cannot_upload_and_is_told_until_when(auth_client, settings):
    # given a live stream whose host was banned after signing in (the upload authenticates from the
    # token alone: the account is checked in the stream's query)
    stream = LiveStreamFactory()
    client = auth_client(stream.host)
    until = timezone.now() + timezone.timedelta(days=3)
    User.objects.filter(pk=stream.host_id).update(banned_until=until, ban_reason="spam")
    files_before = _media_files(settings)
    # when the host uploads a frame
    response = client.post(URL, {"stream_id": stream.pk, "image": upload()}, format="multipart")
    # then it is refused with the ban's end and reason, and nothing is stored
    assert response.status_code == 403, response.json()
    body = response.json()
    assert body["code"] == "account_banned" and body["details"]["reason"] == "spam"
    assert body["details"]["banned_until"] == iso_utc(until)
    assert not Frame.objects.exists() and _media_files(settings) == files_before


def test_a_host_whose_ban_has_ended_uploads_again(auth_client):
    stream = LiveStreamFactory()
    User.objects.filter(pk=stream.host_id).update(banned_until=timezone.now() - timezone.timedelta(minutes=1))
    response = auth_client(stream.host).post(URL, {"stream_id": stream.pk, "image": upload()}, format="multipart")
    assert response.status_code == 202, response.json()


def test_a_deactivated_host_cannot_upload(auth_client):
    stream = LiveStreamFactory()
    client = auth_client(stream.host)
    User.objects.filter(pk=stream.host_id).update(is_active=False)
    response = client.post(URL, {"stream_id": stream.pk, "image": upload()}, format="multipart")
    assert response.status_code == 403 and response.json()["code"] == "account_inactive"
    assert not Frame.objects.exists()


def test_a_revoked_token_cannot_upload(auth_client, django_capture_on_commit_callbacks):
    from apps.accounts.services import user_revoke_all_sessions

    stream = LiveStreamFactory()
    client = auth_client(stream.host)
    with django_capture_on_commit_callbacks(execute=True):
        user_revoke_all_sessions(user=stream.host)
    response = client.post(URL, {"stream_id": stream.pk, "image": upload()}, format="multipart")
    assert response.status_code == 401 and not Frame.objects.exists()


def test_frames_of_an_ended_stream_are_refused(auth_client):
    stream = LiveStreamFactory(status=Stream.Status.ENDED, ended_at=timezone.now())
    response = auth_client(stream.host).post(URL, {"stream_id": stream.pk, "image": upload()}, format="multipart")
    assert response.status_code == 409 and response.json()["code"] == "stream_not_live"


def test_unknown_stream_is_404(auth_client, user):
    response = auth_client(user).post(URL, {"stream_id": 999999, "image": upload()}, format="multipart")
    assert response.status_code == 404


# --- Bad images ---------------------------------------------------------------------------------


def _png(size, mode="RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size).save(buf, format="PNG")
    return buf.getvalue()


def _gif() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (200, 200)).save(buf, format="GIF")
    return buf.getvalue()


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        (b"this is not an image at all", 400, "image_unreadable"),
        ("truncated", 400, "image_unreadable"),
        ("gif", 400, "image_unreadable"),
        ("tiny", 400, "image_too_small"),
        ("bomb", 413, "image_too_large"),
    ],
)
def test_bad_images_are_refused_and_nothing_is_stored(auth_client, settings, payload, status, code):
    # given a live stream and a bad file
    stream = LiveStreamFactory()
    files_before = _media_files(settings)
    jpeg = image_bytes(COFFEE)
    data = {
        "truncated": jpeg[: len(jpeg) // 2],
        "gif": _gif(),
        "tiny": _png((32, 32)),
        "bomb": _png((5000, 5000), mode="1"),  # a few KB on disk, 25 megapixels decoded
    }.get(payload, payload)
    # when the host uploads it
    response = auth_client(stream.host).post(
        URL, {"stream_id": stream.pk, "image": upload(data, name="x.jpg")}, format="multipart"
    )
    # then it gets the error shape and nothing is written
    assert response.status_code == status, response.json()
    assert response.json()["code"] == code and set(response.json()) == {"code", "message", "details"}
    assert not Frame.objects.exists() and _media_files(settings) == files_before


def test_oversized_upload_is_refused_before_decoding(auth_client, settings):
    settings.MODERATION_FRAME_MAX_BYTES = 10_000
    stream = LiveStreamFactory()
    response = auth_client(stream.host).post(URL, {"stream_id": stream.pk, "image": upload()}, format="multipart")
    assert response.status_code == 413 and response.json()["details"]["max_bytes"] == 10_000
    assert not Frame.objects.exists()


def test_missing_image_and_unknown_fields_are_validation_errors(auth_client):
    stream = LiveStreamFactory()
    client = auth_client(stream.host)
    missing = client.post(URL, {"stream_id": stream.pk}, format="multipart")
    unknown = client.post(URL, {"stream_id": stream.pk, "image": upload(), "score": "0"}, format="multipart")
    assert missing.status_code == 400 and "image" in missing.json()["details"]
    assert unknown.status_code == 400 and "score" in unknown.json()["details"]


# --- Verdicts (the real model scores the frames; thresholds move the lines) ----------------------


def test_default_thresholds_let_ordinary_frames_pass(auth_client, django_capture_on_commit_callbacks):
    stream = LiveStreamFactory()
    frame = _upload_and_score(auth_client(stream.host), stream, HIGHER, django_capture_on_commit_callbacks)
    frame.refresh_from_db()
    assert frame.status == Frame.Status.SAFE
    assert abs(frame.score - verdict_score(HIGHER, 0.40)) < 0.0005
    assert frame.model_version.startswith("opennsfw2-0.19.0")
    assert not Case.objects.exists()


def test_frame_above_review_joins_the_queue_once_per_stream(auth_client, django_capture_on_commit_callbacks):
    # given review at 0.01 and block at 0.5
    _thresholds(0.01, 0.5)
    stream = LiveStreamFactory()
    client = auth_client(stream.host)
    # when two frames above review arrive from the same stream (0.013, then 0.032)
    first = _upload_and_score(client, stream, LOW, django_capture_on_commit_callbacks)
    second = _upload_and_score(client, stream, HIGHER, django_capture_on_commit_callbacks)
    # then both are flagged and one open case holds the worse frame; the stream goes on
    first.refresh_from_db(), second.refresh_from_db()
    assert first.status == second.status == Frame.Status.REVIEW
    case = Case.objects.get()
    assert case.kind == Case.Kind.FRAME and case.frame_id == second.pk and case.subject_id == stream.host_id
    assert abs(case.score - verdict_score(HIGHER, 0.01)) < 0.0005 and case.status == Case.Status.OPEN
    stream.refresh_from_db()
    assert stream.status == Stream.Status.LIVE


@pytest.mark.skipif(settings.NSFW_BACKEND != "onnx-int8", reason="the int8 screen hands over to fp32")
def test_a_frame_near_the_review_threshold_is_judged_on_the_fp32_score(auth_client, django_capture_on_commit_callbacks):
    # given review at 0.03, between the astronaut's int8 score (0.026-0.027, by CPU) and its fp32 score (0.0317)
    assert nsfw_int8_scores()[HIGHER] < 0.03 < NSFW_REFERENCE_SCORES[HIGHER]
    _thresholds(0.03, 0.5)
    stream = LiveStreamFactory()
    # when its frame is scored
    frame = _upload_and_score(auth_client(stream.host), stream, HIGHER, django_capture_on_commit_callbacks)
    # then the verdict is the fp32 network's: flagged, with the reference score
    frame.refresh_from_db()
    assert frame.status == Frame.Status.REVIEW and Case.objects.filter(frame=frame).exists()
    assert abs(frame.score - NSFW_REFERENCE_SCORES[HIGHER]) < 0.0005


@pytest.mark.skipif(settings.NSFW_BACKEND != "onnx-int8", reason="the int8 screen hands over to fp32")
def test_without_the_margin_the_int8_screen_alone_would_pass_that_frame(
    auth_client, django_capture_on_commit_callbacks, settings
):
    # given the same threshold and no hand-over (the margin pushed above every score)
    settings.NSFW_INT8_EXACT_MARGIN = -1.0
    _thresholds(0.03, 0.5)
    stream = LiveStreamFactory()
    frame = _upload_and_score(auth_client(stream.host), stream, HIGHER, django_capture_on_commit_callbacks)
    # then the int8 score decides, and it is on the other side: what the hand-over exists for
    frame.refresh_from_db()
    assert frame.status == Frame.Status.SAFE and abs(frame.score - nsfw_int8_scores()[HIGHER]) < 0.0005


def test_frame_below_review_is_safe(auth_client, django_capture_on_commit_callbacks):
    _thresholds(0.02, 0.5)
    stream = LiveStreamFactory()
    frame = _upload_and_score(auth_client(stream.host), stream, LOW, django_capture_on_commit_callbacks)
    frame.refresh_from_db()
    assert frame.status == Frame.Status.SAFE and not Case.objects.exists()


def test_frame_above_block_ends_the_stream_with_a_strike(auth_client, django_capture_on_commit_callbacks):
    # given block at 0.02
    _thresholds(0.01, 0.02)
    stream = LiveStreamFactory()
    # when a frame scoring 0.032 is uploaded
    frame = _upload_and_score(auth_client(stream.host), stream, HIGHER, django_capture_on_commit_callbacks)
    # then the stream is ended by moderation, the host has a strike explained with the model's score
    frame.refresh_from_db(), stream.refresh_from_db()
    assert frame.status == Frame.Status.BLOCKED
    assert stream.status == Stream.Status.ENDED_BY_MODERATION
    strike = Enforcement.objects.get(user=stream.host, kind=Enforcement.Kind.STRIKE)
    assert strike.frame_id == frame.pk and strike.model_score == frame.score and strike.model_version
    assert Case.objects.get().status == Case.Status.OPEN  # a human still looks at it
    actions = set(ModerationAction.objects.values_list("action", "actor"))
    assert actions == {("end_stream", None), ("strike", None)}
    assert not User.objects.get(pk=stream.host_id).is_banned


def test_second_blocked_frame_of_an_ended_stream_gives_no_second_strike(
    auth_client, django_capture_on_commit_callbacks
):
    _thresholds(0.01, 0.02)
    stream = LiveStreamFactory()
    frame = _upload_and_score(auth_client(stream.host), stream, HIGHER, django_capture_on_commit_callbacks)
    # when a second frame's verdict (uploaded before the end) arrives
    late = Frame.objects.create(stream=stream, host=stream.host, image=frame.image.name)
    services.frame_verdict_apply(frame_id=late.pk, score=0.9, model_version=frame.model_version)
    assert Enforcement.objects.filter(kind=Enforcement.Kind.STRIKE).count() == 1


def test_repeated_strikes_suspend_the_host(auth_client, django_capture_on_commit_callbacks):
    # given 2 strikes within 30 days suspend for 3 days
    _thresholds(0.01, 0.02, strikes_to_suspend=2, strike_window_days=30, suspension_days=3)
    host = LiveStreamFactory().host
    client = auth_client(host)
    Stream.objects.filter(host=host).update(status=Stream.Status.ENDED)
    # when two of the host's streams are ended for NSFW frames
    for _ in range(2):
        stream = LiveStreamFactory(host=host)
        _upload_and_score(client, stream, HIGHER, django_capture_on_commit_callbacks)
    # then the host is suspended for 3 days, told why, and the API refuses their token
    host.refresh_from_db()
    assert host.is_banned
    assert abs((host.banned_until - timezone.now()).total_seconds() - 3 * 86400) < 60
    suspension = Enforcement.objects.get(user=host, kind=Enforcement.Kind.SUSPENSION)
    assert suspension.rule == "repeated_strikes" and suspension.ends_at == host.banned_until
    assert client.get("/api/v1/moderation/enforcements/").status_code in (401, 403)


def test_old_strikes_outside_the_window_do_not_count(auth_client, django_capture_on_commit_callbacks):
    _thresholds(0.01, 0.02, strikes_to_suspend=2, strike_window_days=30)
    stream = LiveStreamFactory()
    old = Enforcement.objects.create(user=stream.host, kind=Enforcement.Kind.STRIKE, rule="nsfw_frame", explanation="x")
    Enforcement.objects.filter(pk=old.pk).update(created_at=timezone.now() - timezone.timedelta(days=31))
    _upload_and_score(auth_client(stream.host), stream, HIGHER, django_capture_on_commit_callbacks)
    stream.host.refresh_from_db()
    assert not stream.host.is_banned


def test_sweep_deletes_old_safe_frames_and_keeps_flagged_evidence(
    auth_client, settings, django_capture_on_commit_callbacks
):
    # given a safe frame and a flagged one, both older than the retention
    _thresholds(0.02, 0.5, safe_frame_retention_hours=1)
    stream = LiveStreamFactory()
    client = auth_client(stream.host)
    safe = _upload_and_score(client, stream, LOW, django_capture_on_commit_callbacks)
    flagged = _upload_and_score(client, stream, HIGHER, django_capture_on_commit_callbacks)
    Frame.objects.update(uploaded_at=timezone.now() - timezone.timedelta(hours=2))
    assert private_storage().exists(safe.image.name)
    # when the sweep runs
    result = services.frames_sweep()
    # then the safe frame and its file are gone, the flagged one stays
    assert result["deleted"] == 1
    assert not Frame.objects.filter(pk=safe.pk).exists() and not private_storage().exists(safe.image.name)
    assert Frame.objects.get(pk=flagged.pk).status == Frame.Status.REVIEW


def test_a_frame_is_scored_once_even_if_its_task_runs_twice(auth_client, django_capture_on_commit_callbacks):
    stream = LiveStreamFactory()
    frame = _upload_and_score(auth_client(stream.host), stream, LOW, django_capture_on_commit_callbacks)
    assert services.frame_score(frame_id=frame.pk) == []


def test_one_task_scores_the_pending_frames_as_a_batch(auth_client, django_capture_on_commit_callbacks):
    # given review at 0.01, block at 0.02 and three frames (0.0002, 0.032, 0.013) of two streams waiting
    _thresholds(0.01, 0.02)
    calm, racy = LiveStreamFactory(), LiveStreamFactory()
    sent = []
    for stream, source in ((calm, CALM), (racy, HIGHER), (calm, LOW)):
        with django_capture_on_commit_callbacks(execute=False):
            response = auth_client(stream.host).post(
                URL, {"stream_id": stream.pk, "image": upload(source)}, format="multipart"
            )
        sent.append(response.json()["id"])
    # when the first frame's task runs
    with django_capture_on_commit_callbacks(execute=True):
        scored = services.frame_score(frame_id=sent[0])
    # then it scored all three in one batch, each verdict by its own score, with the model's version
    assert sorted(f.pk for f in scored) == sorted(sent)
    frames = {f.pk: f for f in Frame.objects.filter(pk__in=sent)}
    assert [frames[pk].status for pk in sent] == [Frame.Status.SAFE, Frame.Status.BLOCKED, Frame.Status.REVIEW]
    assert len({frames[pk].claimed_at for pk in sent}) == 1
    assert all(frames[pk].model_version.startswith("opennsfw2-0.19.0") and frames[pk].scored_at for pk in sent)
    # the racy stream ended with a strike, the calm one is queued for review and still live
    assert Stream.objects.get(pk=racy.pk).status == Stream.Status.ENDED_BY_MODERATION
    assert Enforcement.objects.filter(user=racy.host, kind=Enforcement.Kind.STRIKE).count() == 1
    assert Case.objects.get(target_id=str(calm.pk)).frame_id == sent[2]
    assert Stream.objects.get(pk=calm.pk).status == Stream.Status.LIVE
    # and the other two tasks find nothing left to do
    assert services.frame_score(frame_id=sent[1]) == [] and services.frame_score(frame_id=sent[2]) == []


# --- The worker scores from the API's copy of the bytes ---------------------------------------------


def _upload_unscored(client, stream, source) -> Frame:
    response = client.post(URL, {"stream_id": stream.pk, "image": upload(source)}, format="multipart")
    assert response.status_code == 202, response.json()
    return Frame.objects.get(pk=response.json()["id"])


def test_the_worker_scores_a_frame_from_the_uploads_copy_without_reading_the_bucket(
    auth_client, django_capture_on_commit_callbacks
):
    # given a frame uploaded (its task not run yet) whose file then vanished from the bucket
    stream = LiveStreamFactory()
    with django_capture_on_commit_callbacks(execute=False):
        frame = _upload_unscored(auth_client(stream.host), stream, LOW)
    frame.image.storage.delete(frame.image.name)
    # when its task runs
    scored = services.frame_score(frame_id=frame.pk)
    # then it was scored from the copy the upload left in the cache, which is then gone
    frame.refresh_from_db()
    assert [f.pk for f in scored] == [frame.pk] and frame.status == Frame.Status.SAFE
    assert abs(frame.score - verdict_score(LOW, moderation_settings_get().nsfw_review_threshold)) < 0.0005
    assert cache.get(_hot_copy_key(frame)) is None


def test_a_frame_whose_copy_is_gone_is_read_from_the_bucket(auth_client, django_capture_on_commit_callbacks):
    # given a frame whose cached copy expired (or was evicted) before its task ran
    stream = LiveStreamFactory()
    with django_capture_on_commit_callbacks(execute=False):
        frame = _upload_unscored(auth_client(stream.host), stream, LOW)
    assert cache.delete(_hot_copy_key(frame))
    # when its task runs, it reads the stored file and scores the same
    services.frame_score(frame_id=frame.pk)
    frame.refresh_from_db()
    assert frame.status == Frame.Status.SAFE
    assert abs(frame.score - verdict_score(LOW, moderation_settings_get().nsfw_review_threshold)) < 0.0005


def test_with_the_copy_turned_off_nothing_is_cached_and_the_bucket_is_read(
    auth_client, django_capture_on_commit_callbacks, settings
):
    settings.MODERATION_FRAME_HOT_COPY_SECONDS = 0
    stream = LiveStreamFactory()
    with django_capture_on_commit_callbacks(execute=False):
        frame = _upload_unscored(auth_client(stream.host), stream, LOW)
    assert cache.get(_hot_copy_key(frame)) is None
    services.frame_score(frame_id=frame.pk)
    frame.refresh_from_db()
    assert frame.status == Frame.Status.SAFE
