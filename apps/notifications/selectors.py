from django.core.cache import cache
from django.db.models import QuerySet

from apps.notifications.models import Device, Notification, Preference

UNREAD_TTL = 3600


def unread_key(user_id: int) -> str:
    return f"notif:unread:{user_id}"


def notification_list(*, user_id: int) -> QuerySet[Notification]:
    """The user's inbox, newest first (cursor-paginated by created_at)."""
    return Notification.objects.filter(user_id=user_id)


def notification_unread_count(*, user_id: int) -> int:
    """Unread items: cached, and forgotten whenever the user's inbox changes (services)."""
    count = cache.get(unread_key(user_id))
    if count is None:
        count = Notification.objects.filter(user_id=user_id, read_at__isnull=True).count()
        cache.set(unread_key(user_id), count, UNREAD_TTL)
    return int(count)


def preference_of(*, user_id: int) -> Preference:
    """The user's preferences, or the defaults (everything on, no quiet hours) when never saved."""
    return Preference.objects.filter(user_id=user_id).first() or Preference(user_id=user_id)


def device_list(*, user_id: int) -> QuerySet[Device]:
    return Device.objects.filter(user_id=user_id).order_by("-last_seen_at")
