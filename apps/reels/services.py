"""Every write of the reels app: upload, processing, engagement, deletion."""

import contextlib
import logging
import math
import os
import tempfile
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy

from apps.accounts.models import User
from apps.core.exceptions import PermissionDenied
from apps.core.timestamps import iso_utc
from apps.moderation.services import chat_message_check, report_create, text_mask, video_check
from apps.moderation.types import CaseTargetType, FiledReport
from apps.reels import counters, ranking
from apps.reels.exceptions import (
    CommentNotAllowed,
    ReelNotFound,
    VideoDurationOutOfRange,
    VideoTooLarge,
    VideoTypeNotAllowed,
    VideoUnreadable,
)
from apps.reels.hashtags import hashtags_extract
from apps.reels.models import Hashtag, Reel, ReelComment, ReelHashtag, ReelLike
from apps.reels.selectors import reel_get_visible
from apps.reels.trending import trending_refresh as trending_refresh
from apps.reels.video import VideoProbe, local_path, thumbnail_jpeg, video_measure, video_probe

logger = logging.getLogger(__name__)

EXTENSIONS = {"video/mp4": ".mp4", "video/quicktime": ".mov", "video/webm": ".webm"}
# Reel comments share the chat filter's per-room offence counting under one pseudo-room.
REEL_COMMENTS_ROOM = 0
# A container may round its frame count; a decode that reaches less than this share is corrupt.
MIN_DECODED_SHARE = 0.9


# --- Upload and processing ----------------------------------------------------------------------


@contextlib.contextmanager
def _upload_path(upload: UploadedFile) -> Iterator[str]:
    """A path to the uploaded bytes: Django's temporary file, or a copy of a small in-memory upload."""
    if hasattr(upload, "temporary_file_path"):
        yield upload.temporary_file_path()
        return
    with tempfile.NamedTemporaryFile(suffix=os.path.splitext(upload.name or "")[1]) as tmp:
        upload.seek(0)
        for chunk in upload.chunks():
            tmp.write(chunk)
        tmp.flush()
        yield tmp.name


def _check_duration(seconds: float) -> None:
    low, high = settings.REELS_MIN_DURATION_SECONDS, settings.REELS_MAX_DURATION_SECONDS
    if not low <= seconds <= high:
        raise VideoDurationOutOfRange(
            details={"duration_seconds": round(seconds, 2), "min_seconds": low, "max_seconds": high}
        )


def reel_upload(*, author: User, upload: UploadedFile, caption: str = "") -> Reel:
    """Check the upload by reading it, store it, and queue its processing.

    Size, type (sniffed from the bytes) and the container's duration are checked here, so a bad
    file is refused at once and nothing is stored. The reel starts as processing; the task
    decodes every frame, makes the thumbnail and asks moderation before it is published.
    """
    if author.is_banned:
        raise PermissionDenied(gettext_lazy("Banned accounts cannot post reels."))
    if upload.size is None or upload.size > settings.REELS_MAX_UPLOAD_BYTES:
        raise VideoTooLarge(details={"max_bytes": settings.REELS_MAX_UPLOAD_BYTES, "received_bytes": upload.size})
    with _upload_path(upload) as path:
        probe: VideoProbe = video_probe(path=path)
    _check_duration(probe.duration_seconds)

    reel = Reel(
        author=author,
        caption=text_mask(caption.strip()),
        content_type=probe.content_type,
        size_bytes=upload.size,
        duration_seconds=round(probe.duration_seconds, 3),
        width=probe.width,
        height=probe.height,
    )
    upload.seek(0)
    # Storage first (slow I/O outside the transaction); a failed insert removes the orphan file.
    reel.video.save("video" + EXTENSIONS[probe.content_type], upload, save=False)
    try:
        with transaction.atomic():
            reel.save()
            _hashtags_set(reel)
            transaction.on_commit(lambda: _enqueue_processing(reel.pk))
    except Exception:
        reel.video.storage.delete(reel.video.name)
        raise
    logger.info("reel uploaded", extra={"reel_id": reel.pk, "author_id": author.pk, "bytes": upload.size})
    return reel


def _enqueue_processing(reel_id: int) -> None:
    from apps.reels.tasks import reel_process_task

    reel_process_task.delay(reel_id)


def _reject(reel_id: int, reason: str, **fields: Any) -> Reel:
    with transaction.atomic():
        reel = Reel.objects.select_for_update().get(pk=reel_id)
        if reel.status != Reel.Status.PROCESSING:
            return reel
        reel.status = Reel.Status.REJECTED
        reel.rejection_reason = reason[:300]
        for name, value in fields.items():
            setattr(reel, name, value)
        reel.save(update_fields=["status", "rejection_reason", *fields])
    logger.info("reel rejected", extra={"reel_id": reel_id, "reason": reason})
    return reel


def reel_process(*, reel_id: int) -> Reel:
    """Measure, thumbnail and moderate a processing reel, then publish or reject it.

    Safe to rerun: a reel no longer processing is returned untouched. The slow part (decoding and
    the moderation model) runs without any lock; the row is locked only to record the outcome, and
    a reel deleted meanwhile stays deleted.
    """
    reel = Reel.objects.get(pk=reel_id)
    if reel.status != Reel.Status.PROCESSING:
        return reel
    max_seconds = settings.REELS_MAX_DURATION_SECONDS
    with local_path(reel.video) as path:
        try:
            probe = video_probe(path=path)
            limit = math.ceil(max_seconds * probe.fps) + 1
            measure = video_measure(path=path, fps=probe.fps, max_frames=limit)
        except (VideoUnreadable, VideoTypeNotAllowed):
            return _reject(reel_id, "The video could not be decoded.")
        if measure.decoded_frames > limit or measure.duration_seconds > max_seconds + 0.5:
            return _reject(reel_id, f"The video is longer than {max_seconds:g} seconds.")
        if measure.decoded_frames < MIN_DECODED_SHARE * min(probe.frame_count, limit):
            return _reject(reel_id, "The video is damaged: only part of it decodes.")
        duration = measure.duration_seconds
        thumbnail = thumbnail_jpeg(path=path, at_seconds=min(1.0, duration / 2))
        verdict = video_check(path=path)

    storage = reel.thumbnail.storage
    thumb_name = storage.save(reel.thumbnail.field.generate_filename(reel, "thumb.jpg"), ContentFile(thumbnail))
    with transaction.atomic():
        locked = Reel.objects.select_for_update().get(pk=reel_id)
        if locked.status != Reel.Status.PROCESSING:
            transaction.on_commit(lambda: storage.delete(thumb_name))
            return locked
        locked.thumbnail.name = thumb_name
        locked.duration_seconds = round(duration, 3)
        locked.moderation_score = verdict.max_score
        locked.moderation_model_version = verdict.model_version[:60]
        if verdict.publish:
            locked.status = Reel.Status.PUBLISHED
            locked.published_at = timezone.now()
            locked.hot_score = _hot(locked)
        else:
            locked.status = Reel.Status.REJECTED
            locked.rejection_reason = (verdict.reason or "Refused by moderation.")[:300]
        locked.save()
    logger.info("reel processed", extra={"reel_id": reel_id, "status": locked.status, "score": verdict.max_score})
    return locked


def reel_process_failed(*, reel_id: int) -> Reel:
    """Processing gave up after its retries (moderation down, storage lost): tell the uploader."""
    return _reject(reel_id, "The video could not be processed; please upload it again.")


# --- Caption and hashtags -----------------------------------------------------------------------


def _hashtags_set(reel: Reel) -> list[str]:
    """Make the reel's tags those of its caption (inside the caller's transaction). New tags are
    inserted with ON CONFLICT DO NOTHING, so two reels naming a new tag at once both get it."""
    tags = hashtags_extract(reel.caption)
    Hashtag.objects.bulk_create([Hashtag(tag=tag) for tag in tags], ignore_conflicts=True)
    ids = dict(Hashtag.objects.filter(tag__in=tags).values_list("tag", "pk"))
    ReelHashtag.objects.filter(reel=reel).exclude(hashtag_id__in=ids.values()).delete()
    ReelHashtag.objects.bulk_create(
        [ReelHashtag(reel=reel, hashtag_id=ids[tag]) for tag in tags], ignore_conflicts=True
    )
    return tags


def reel_caption_update(*, reel_id: int, user: User, caption: str) -> Reel:
    """The author rewrites a reel's caption (banned words masked); its hashtags follow the new text."""
    with transaction.atomic():
        reel = Reel.objects.select_for_update().filter(pk=reel_id).exclude(status=Reel.Status.DELETED).first()
        if reel is None or reel.author_id != user.pk:
            raise ReelNotFound()
        reel.caption = text_mask(caption.strip())
        reel.save(update_fields=["caption"])
        _hashtags_set(reel)
    return reel


# --- Deletion -------------------------------------------------------------------------------------


def reel_delete(*, reel_id: int, user: User) -> None:
    """The author removes their reel: it leaves every feed at once and its files are deleted.

    The row stays (status deleted, counters kept) so reports about it still have their target.
    """
    with transaction.atomic():
        reel = Reel.objects.select_for_update().filter(pk=reel_id).exclude(status=Reel.Status.DELETED).first()
        if reel is None or reel.author_id != user.pk:
            raise ReelNotFound()
        names = [name for name in (reel.video.name, reel.thumbnail.name) if name]
        reel.status = Reel.Status.DELETED
        reel.deleted_at = timezone.now()
        reel.save(update_fields=["status", "deleted_at"])
        storage = reel.video.storage
        transaction.on_commit(lambda: [storage.delete(name) for name in names])
    logger.info("reel deleted", extra={"reel_id": reel_id, "author_id": user.pk})


def reel_takedown(*, reel_id: int, by: User, reason: str) -> Reel:
    """A moderator removes a published (or processing) reel: it leaves every feed, the author sees why."""
    if not by.is_staff:
        raise PermissionDenied(gettext_lazy("Only staff may take reels down."))
    with transaction.atomic():
        reel = Reel.objects.select_for_update().filter(pk=reel_id).exclude(status=Reel.Status.DELETED).first()
        if reel is None:
            raise ReelNotFound()
        reel.status = Reel.Status.REJECTED
        reel.rejection_reason = f"Removed by a moderator: {reason}"[:300]
        reel.save(update_fields=["status", "rejection_reason"])
    logger.info("reel taken down", extra={"reel_id": reel_id, "by": by.pk})
    return reel


# --- Reports --------------------------------------------------------------------------------------


def reel_report(*, reel_id: int, reporter: User, reason: str, details: str = "") -> tuple[FiledReport, bool]:
    """Report a reel the reporter can see; moderation merges reports per reel into one open case.

    Returns (report, created): repeating a report gives the first one back.
    """
    reel = reel_get_visible(reel_id=reel_id, viewer=reporter)
    return report_create(
        reporter=reporter, target_type=CaseTargetType.REEL, target_id=reel.pk, reason=reason, details=details
    )


# --- Engagement ------------------------------------------------------------------------------------


def _hot(reel: Reel) -> float:
    return ranking.hot_score(
        published_at=reel.published_at or reel.created_at,
        views=reel.views_count,
        likes=reel.likes_count,
        comments=reel.comments_count,
        shares=reel.shares_count,
    )


def _rerank(reel_id: int) -> None:
    """Recompute a reel's feed score now (embedded) or at the next counters flush (Redis)."""
    if counters.redis_enabled():
        transaction.on_commit(lambda: counters.mark_dirty(reel_id=reel_id))
        return
    with transaction.atomic():
        reel = Reel.objects.select_for_update().get(pk=reel_id)
        Reel.objects.filter(pk=reel_id).update(hot_score=_hot(reel))


def reel_like(*, reel_id: int, user: User) -> Reel:
    """Like a reel; liking it again changes nothing (the unique pair is the guard)."""
    reel = reel_get_visible(reel_id=reel_id, viewer=user)
    with transaction.atomic():
        try:
            with transaction.atomic():
                ReelLike.objects.create(reel=reel, user=user)
        except IntegrityError:
            return reel
        Reel.objects.filter(pk=reel.pk).update(likes_count=F("likes_count") + 1)
        _rerank(reel.pk)
    reel.refresh_from_db(fields=["likes_count"])
    return reel


def reel_unlike(*, reel_id: int, user: User) -> Reel:
    """Take a like back; unliking a reel not liked changes nothing."""
    reel = reel_get_visible(reel_id=reel_id, viewer=user)
    with transaction.atomic():
        deleted, _ = ReelLike.objects.filter(reel=reel, user=user).delete()
        if deleted:
            Reel.objects.filter(pk=reel.pk).update(likes_count=F("likes_count") - 1)
            _rerank(reel.pk)
    reel.refresh_from_db(fields=["likes_count"])
    return reel


def reel_comment_create(*, reel_id: int, user: User, text: str) -> ReelComment:
    """Comment through the chat word filter: banned words are masked; a muted sender is refused."""
    reel = reel_get_visible(reel_id=reel_id, viewer=user)
    check = chat_message_check(user_id=user.pk, stream_id=REEL_COMMENTS_ROOM, text=text)
    if not check.allowed:
        raise CommentNotAllowed(details={"muted_until": iso_utc(check.muted_until)})
    with transaction.atomic():
        comment = ReelComment.objects.create(reel=reel, author=user, text=check.text, was_masked=check.text != text)
        Reel.objects.filter(pk=reel.pk).update(comments_count=F("comments_count") + 1)
        _rerank(reel.pk)
    return comment


def reel_comment_delete(*, comment_id: int, user: User) -> None:
    """The comment's author or the reel's author removes a comment."""
    with transaction.atomic():
        comment = ReelComment.objects.select_related("reel").filter(pk=comment_id).first()
        if comment is None or user.pk not in (comment.author_id, comment.reel.author_id):
            raise ReelNotFound(gettext_lazy("No such comment."))
        comment.delete()
        Reel.objects.filter(pk=comment.reel_id).update(comments_count=F("comments_count") - 1)
        _rerank(comment.reel_id)


def _count(reel: Reel, field: str) -> None:
    if counters.redis_enabled():
        counters.counter_incr(reel_id=reel.pk, field=field)
        return
    with transaction.atomic():
        Reel.objects.filter(pk=reel.pk).update(**{f"{field}_count": F(f"{field}_count") + 1})
        _rerank(reel.pk)


def reel_view(*, reel_id: int, user: User) -> bool:
    """Count a view, once per viewer per REELS_VIEW_DEDUPE_SECONDS. No database write (Redis mode)."""
    reel = reel_get_visible(reel_id=reel_id, viewer=user)
    if reel.author_id == user.pk:
        return False
    if counters.redis_enabled():
        first = counters.view_first_in_window(reel_id=reel.pk, user_id=user.pk)
    else:
        key = counters.VIEWED_KEY.format(reel_id=reel.pk, user_id=user.pk)
        first = cache.add(key, 1, timeout=settings.REELS_VIEW_DEDUPE_SECONDS)
    if first:
        _count(reel, "views")
    return first


def reel_share(*, reel_id: int, user: User) -> Reel:
    """Count a share (the app opens the system share sheet itself)."""
    reel = reel_get_visible(reel_id=reel_id, viewer=user)
    _count(reel, "shares")
    return reel


def counters_flush(*, batch_size: int = 500, max_batches: int = 50) -> int:
    """Fold pending view/share counts into reel rows and re-rank them. Returns reels updated.

    One flusher at a time (a Redis lock): two could otherwise add the same pending counts twice.
    """
    if not counters.redis_enabled() or not counters.flush_lock():
        return 0
    updated = 0
    try:
        for _ in range(max_batches):
            batch = counters.dirty_batch(size=batch_size)
            if not batch:
                break
            with transaction.atomic():
                rows = Reel.objects.select_for_update().filter(pk__in=list(batch)).order_by("pk")
                for reel in rows:
                    pending = batch[reel.pk]
                    reel.views_count += pending["views"]
                    reel.shares_count += pending["shares"]
                    if reel.status == Reel.Status.PUBLISHED:
                        reel.hot_score = _hot(reel)
                    reel.save(update_fields=["views_count", "shares_count", "hot_score"])
                    updated += 1
            for reel_id, pending in batch.items():
                counters.settle(reel_id=reel_id, flushed=pending)
            if len(batch) < batch_size:
                break
    finally:
        counters.flush_unlock()
    return updated
