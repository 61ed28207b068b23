"""The feed's rank of a reel: freshness plus how much it is engaged with.

hot = log2(1 + engagement) + published_at / half_life, with engagement a weighted sum of views,
likes, comments and shares. A reel published one half-life later needs half the engagement to
rank level; doubling engagement is worth one half-life of age. Because age enters through the
publish time (not "now"), a reel's score only changes when its counters do, so scores are stored,
indexed and safe to paginate on.
"""

import math
from datetime import datetime

from django.conf import settings

WEIGHTS = {"views": 1.0, "likes": 5.0, "comments": 10.0, "shares": 20.0}


def engagement(*, views: int, likes: int, comments: int, shares: int) -> float:
    return (
        WEIGHTS["views"] * views
        + WEIGHTS["likes"] * likes
        + WEIGHTS["comments"] * comments
        + WEIGHTS["shares"] * shares
    )


def hot_score(*, published_at: datetime, views: int, likes: int, comments: int, shares: int) -> float:
    half_life = settings.REELS_HOT_HALF_LIFE_HOURS * 3600.0
    weighted = engagement(views=views, likes=likes, comments=comments, shares=shares)
    return math.log2(1.0 + max(weighted, 0.0)) + published_at.timestamp() / half_life
