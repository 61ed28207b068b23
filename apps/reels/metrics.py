"""What reels registers for core's ops pages (apps.core.analytics): who posted, commented or liked."""

from datetime import date

from apps.core.analytics import OpsReads, Window, daily_users
from apps.reels.models import Reel, ReelComment, ReelLike


def _authors(window: Window) -> list[tuple[date, int]]:
    return daily_users(Reel.objects.filter(**window.within("created_at")), "author_id", "created_at")


def _commenters(window: Window) -> list[tuple[date, int]]:
    comments = ReelComment.objects.filter(**window.within("created_at"))
    return daily_users(comments, "author_id", "created_at")


def _likers(window: Window) -> list[tuple[date, int]]:
    return daily_users(ReelLike.objects.filter(**window.within("created_at")), "user_id", "created_at")


OPS_READS = OpsReads(activity={"reel authors": _authors, "reel comments": _commenters, "reel likes": _likers})
