import uuid
from pathlib import PurePosixPath
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from apps.core.search import search_text as search_key


def reel_video_path(instance: "Reel", filename: str) -> str:
    # The client's file name is never used: it may hold anything (paths, personal data).
    ext = PurePosixPath(filename).suffix.lower()[:8] or ".mp4"
    return f"reels/videos/{timezone.now():%Y/%m}/{uuid.uuid4().hex}{ext}"


def reel_thumbnail_path(instance: "Reel", filename: str) -> str:
    return f"reels/thumbnails/{timezone.now():%Y/%m}/{uuid.uuid4().hex}.jpg"


class Hashtag(models.Model):
    """A tag as stored: NFC-normalised and case-folded (apps.reels.hashtags), Devanagari included."""

    tag = models.CharField(max_length=50, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"#{self.tag}"


class Reel(models.Model):
    class Status(models.TextChoices):
        PROCESSING = "processing", "Processing"
        PUBLISHED = "published", "Published"
        REJECTED = "rejected", "Rejected"
        DELETED = "deleted", "Deleted by the author"

    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reels")
    caption = models.CharField(max_length=300, blank=True)
    video = models.FileField(upload_to=reel_video_path, max_length=200)
    content_type = models.CharField(max_length=40, help_text="Sniffed from the file's bytes, not the client's claim.")
    size_bytes = models.BigIntegerField()
    duration_seconds = models.FloatField(null=True, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    thumbnail = models.ImageField(upload_to=reel_thumbnail_path, max_length=200, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PROCESSING)
    rejection_reason = models.CharField(max_length=300, blank=True)
    moderation_score = models.FloatField(null=True, blank=True, help_text="Highest NSFW frame score.")
    moderation_model_version = models.CharField(max_length=60, blank=True)
    # Counters: likes and comments move with their rows; views and shares are counted in Redis
    # and folded in by the reels.counters_flush beat task.
    views_count = models.BigIntegerField(default=0)
    likes_count = models.BigIntegerField(default=0)
    comments_count = models.BigIntegerField(default=0)
    shares_count = models.BigIntegerField(default=0)
    hot_score = models.FloatField(default=0.0, help_text="Feed rank: freshness plus log2 of weighted engagement.")
    hashtags: "models.ManyToManyField[Hashtag, ReelHashtag]" = models.ManyToManyField(
        Hashtag, through="ReelHashtag", related_name="reels", blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    # The romanised search key of the caption, hashtags included (apps.core.search), kept in step by save().
    search_text = models.TextField(blank=True, default="", editable=False)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(views_count__gte=0, likes_count__gte=0, comments_count__gte=0, shares_count__gte=0),
                name="reel_counts_non_negative",
            ),
            models.CheckConstraint(condition=Q(size_bytes__gte=0), name="reel_size_non_negative"),
        ]
        indexes = [
            models.Index(fields=["status", "-hot_score", "-id"], name="reel_feed_hot_idx"),
            models.Index(fields=["author", "status", "-hot_score", "-id"], name="reel_author_hot_idx"),
            models.Index(fields=["author", "-created_at"], name="reel_author_created_idx"),
            # A common word's reels, most liked first (apps.reels.search.reel_search).
            models.Index(fields=["-likes_count", "-id"], condition=Q(status="published"), name="reel_search_likes_idx"),
        ]

    def __str__(self) -> str:
        return f"reel #{self.pk} by {self.author_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        update_fields = kwargs.get("update_fields")
        if update_fields is None or "caption" in update_fields:
            self.search_text = search_key(self.caption)
            if update_fields is not None:
                kwargs["update_fields"] = {*update_fields, "search_text"}
        super().save(*args, **kwargs)


class ReelLike(models.Model):
    reel = models.ForeignKey(Reel, on_delete=models.CASCADE, related_name="likes")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reel_likes")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["reel", "user"], name="reel_like_once")]
        indexes = [models.Index(fields=["user", "-created_at"], name="reel_like_user_idx")]

    def __str__(self) -> str:
        return f"{self.user_id} likes reel {self.reel_id}"


class ReelComment(models.Model):
    reel = models.ForeignKey(Reel, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reel_comments")
    text = models.CharField(max_length=500, help_text="As shown: banned words already masked.")
    was_masked = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["reel", "-created_at"], name="reel_comment_reel_idx")]

    def __str__(self) -> str:
        return f"comment #{self.pk} on reel {self.reel_id}"


class ReelHashtag(models.Model):
    """A tag in a reel's caption (rows in the caption's order)."""

    reel = models.ForeignKey(Reel, on_delete=models.CASCADE, related_name="hashtag_links")
    hashtag = models.ForeignKey(Hashtag, on_delete=models.CASCADE, related_name="reel_links")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["reel", "hashtag"], name="reel_hashtag_once")]
        # a tag's reels, newest first
        indexes = [models.Index(fields=["hashtag", "-reel"], name="reel_hashtag_tag_idx")]

    def __str__(self) -> str:
        return f"reel {self.reel_id} #{self.hashtag_id}"
