from typing import Any

from django.db.models import Count, Q, QuerySet

from apps.accounts.models import Block, Follow, User
from apps.core.exceptions import NotFound


def user_get_by_username(*, username: str) -> User:
    try:
        return User.objects.get(username__iexact=username, is_active=True)
    except User.DoesNotExist:
        raise NotFound("No such user.") from None


def user_get_visible(*, username: str, viewer: User) -> User:
    """The active user by username, as the viewer may see them: a blocked pair see each other as absent."""
    target = user_get_by_username(username=username)
    if viewer.is_authenticated and is_blocked_between(user_id=viewer.pk, other_id=target.pk):
        raise NotFound("No such user.")
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
        raise NotFound("No such user.")
    return user


def blocked_user_ids(*, user: User) -> set[int]:
    """Ids of everyone this user blocked or who blocked this user: they never see each other."""
    if not user.is_authenticated:
        return set()
    pairs = Block.objects.filter(Q(blocker=user) | Q(blocked=user)).values_list("blocker_id", "blocked_id")
    return {other for pair in pairs for other in pair if other != user.pk}


def is_blocked_between(*, user_id: int, other_id: int) -> bool:
    """True when either of the two has blocked the other."""
    return Block.objects.filter(
        Q(blocker_id=user_id, blocked_id=other_id) | Q(blocker_id=other_id, blocked_id=user_id)
    ).exists()


def is_following(*, follower_id: int, followee_id: int) -> bool:
    return Follow.objects.filter(follower_id=follower_id, followee_id=followee_id).exists()


def following_ids(*, user: User) -> QuerySet[Follow, Any]:
    return Follow.objects.filter(follower=user).values("followee_id")


def follower_list(*, user: User) -> QuerySet[Follow]:
    return Follow.objects.filter(followee=user, follower__is_active=True).select_related("follower")


def following_list(*, user: User) -> QuerySet[Follow]:
    return Follow.objects.filter(follower=user, followee__is_active=True).select_related("followee")


def block_list(*, user: User) -> QuerySet[Block]:
    return Block.objects.filter(blocker=user).select_related("blocked")
