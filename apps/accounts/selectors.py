from datetime import date, datetime
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy

from apps.accounts.faces import StoredFace
from apps.accounts.models import Block, FaceDescriptor, Follow, User, adult_born_by
from apps.core.exceptions import NotFound


def user_get_by_username(*, username: str) -> User:
    try:
        return User.objects.get(username__iexact=username, is_active=True)
    except User.DoesNotExist:
        raise NotFound(gettext_lazy("No such user.")) from None


def user_get_visible(*, username: str, viewer: User) -> User:
    """The active user by username, as the viewer may see them: a blocked pair see each other as absent."""
    target = user_get_by_username(username=username)
    if viewer.is_authenticated and is_blocked_between(user_id=viewer.pk, other_id=target.pk):
        raise NotFound(gettext_lazy("No such user."))
    return target


def user_find_for_login(*, identifier: str) -> User | None:
    """The account a login identifier names: a username, an email or a phone number."""
    return User.objects.filter(
        Q(username__iexact=identifier) | Q(email__iexact=identifier) | Q(phone=identifier)
    ).first()


def user_with_counts(*, user_id: int) -> User:
    """A user annotated with followers_count and following_count (one query)."""
    qs = User.objects.filter(pk=user_id, is_active=True).annotate(
        followers_count=Count("follower_links", distinct=True),
        following_count=Count("following_links", distinct=True),
    )
    user = qs.first()
    if user is None:
        raise NotFound(gettext_lazy("No such user."))
    return user


def blocked_user_ids(*, user: User) -> set[int]:
    """Ids of everyone this user blocked or who blocked this user: they never see each other."""
    if not user.is_authenticated:
        return set()
    pairs = Block.objects.filter(Q(blocker=user) | Q(blocked=user)).values_list("blocker_id", "blocked_id")
    return {other for pair in pairs for other in pair if other != user.pk}


def blocked_either_way(*, user: User, field: str = "pk") -> Q:
    """Rows whose `field` (a user id) is someone this user blocked or who blocked this user, for
    `exclude()` in another app's query: two subqueries on the block indexes, not a read before it."""
    if not user.is_authenticated:
        return Q(pk__in=[])
    return Q(**{f"{field}__in": Block.objects.filter(blocker=user).values("blocked_id")}) | Q(
        **{f"{field}__in": Block.objects.filter(blocked=user).values("blocker_id")}
    )


def blocks_between(*, user_id: int, other_id: int) -> QuerySet[Block]:
    """The blocks between the two, either way (for `Exists()` in another app's query)."""
    return Block.objects.filter(Q(blocker_id=user_id, blocked_id=other_id) | Q(blocker_id=other_id, blocked_id=user_id))


def is_blocked_between(*, user_id: int, other_id: int) -> bool:
    """True when either of the two has blocked the other."""
    return blocks_between(user_id=user_id, other_id=other_id).exists()


def follow_links(*, follower_id: int, followee_id: int) -> QuerySet[Follow]:
    """The follow of `followee_id` by `follower_id`, if any (for `Exists()` in another app's query)."""
    return Follow.objects.filter(follower_id=follower_id, followee_id=followee_id)


def is_following(*, follower_id: int, followee_id: int) -> bool:
    return follow_links(follower_id=follower_id, followee_id=followee_id).exists()


# --- The same rules as SQL, for one-statement writes of other apps (the gift send) -------------
# Each is the twin of a Python check here or in services: keep the two meanings equal.

ACTIVE_ADULT_NOW_PARAM = "accounts_now"
ACTIVE_ADULT_BORN_BY_PARAM = "accounts_adult_born_by"


def user_active_adult_sql(user: str) -> str:
    """`services.user_require_active_adult` as a SQL condition on the user row aliased `user`.

    It reads two parameters, `user_active_adult_params()` gives their values.
    """
    held = ", ".join(f"'{v.value}'" for v in (User.AgeVerification.PENDING_REVIEW, User.AgeVerification.REJECTED))
    return (
        f"{user}.is_active AND ({user}.banned_until IS NULL OR {user}.banned_until <= %({ACTIVE_ADULT_NOW_PARAM})s)"
        f" AND {user}.date_of_birth <= %({ACTIVE_ADULT_BORN_BY_PARAM})s AND {user}.age_verification NOT IN ({held})"
    )


def user_active_adult_params(*, now: datetime) -> dict[str, date | datetime]:
    """The parameters of `user_active_adult_sql` at `now` (the same test of age as `User.is_adult`)."""
    return {
        ACTIVE_ADULT_NOW_PARAM: now,
        ACTIVE_ADULT_BORN_BY_PARAM: adult_born_by(today=timezone.localdate(now)),
    }


def blocked_between_sql(user_id: str, other_id: str) -> str:
    """`is_blocked_between` as a SQL condition on two SQL expressions of user ids."""
    block = Block._meta.db_table
    return (
        f"EXISTS (SELECT 1 FROM {block} b WHERE (b.blocker_id = {user_id} AND b.blocked_id = {other_id})"  # noqa: S608
        f" OR (b.blocker_id = {other_id} AND b.blocked_id = {user_id}))"
    )


def following_ids(*, user: User) -> QuerySet[Follow, Any]:
    return Follow.objects.filter(follower=user).values("followee_id")


def followed_among(*, user: User, candidate_ids: list[int]) -> tuple[set[int], dict[int, int]]:
    """Of the candidates: those the user follows, and for the others how many of the people the user
    follows follow them (two indexed queries; the trending list's follow-graph boost)."""
    if not candidate_ids:
        return set(), {}
    followed = set(
        Follow.objects.filter(follower=user, followee_id__in=candidate_ids).values_list("followee_id", flat=True)
    )
    rows = (
        Follow.objects.filter(follower_id__in=following_ids(user=user), followee_id__in=candidate_ids)
        .exclude(followee_id__in=followed)
        .exclude(followee=user)
        .values("followee_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return followed, {row["followee_id"]: row["n"] for row in rows}


def follower_list(*, user: User) -> QuerySet[Follow]:
    return Follow.objects.filter(followee=user, follower__is_active=True).select_related("follower")


def following_list(*, user: User) -> QuerySet[Follow]:
    return Follow.objects.filter(follower=user, followee__is_active=True).select_related("followee")


def block_list(*, user: User) -> QuerySet[Block]:
    return Block.objects.filter(blocker=user).select_related("blocked")


USER_LANGUAGE_KEY = "accounts:language:{user_id}"


def user_face_descriptor_get(*, user_id: int) -> StoredFace | None:
    """The descriptor of the face on the user's age-check selfie, if one was kept."""
    row = FaceDescriptor.objects.filter(user_id=user_id).first()
    if row is None:
        return None
    return StoredFace(
        descriptor=tuple(float(v) for v in row.descriptor), model_version=row.model_version, created_at=row.created_at
    )
