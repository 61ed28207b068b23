"""Notifications: devices, preferences, the inbox, pushes, and the events other apps announce."""

import logging
from datetime import time as dtime
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from apps.accounts.models import User
from apps.accounts.selectors import follower_list
from apps.core.i18n import language_choose
from apps.gifts.selectors import gift_receipts_between, gift_send_last_id
from apps.live.selectors import schedule_subscriber_ids, stream_get
from apps.live.services import schedule_reminders_claim
from apps.live.stream_status import stream_status
from apps.notifications.delivery import NEPAL, DeliveryReport, Push, in_quiet_hours, pushes_send
from apps.notifications.exceptions import DeviceNotFound, NotificationNotFound, QuietHoursInvalid
from apps.notifications.models import Device, Kind, Notification, Preference
from apps.notifications.selectors import unread_key
from apps.notifications.texts import notification_text_in

logger = logging.getLogger(__name__)

PREFERENCE_KINDS = [kind.value for kind in Kind]
DIGEST_TTL = 24 * 3600


# --- Devices and preferences --------------------------------------------------------------------


@transaction.atomic
def device_register(*, user: User, token: str, platform: str, locale: str = "") -> Device:
    """Register (or refresh) this app install's FCM token for the signed-in user. A token another
    account registered before moves to this one: a token names an install, and whoever is signed in
    on it now is who its pushes are for."""
    device = Device.objects.select_for_update().filter(token=token).first()
    if device is None:
        try:
            with transaction.atomic():
                return Device.objects.create(user=user, token=token, platform=platform, locale=locale)
        except IntegrityError:  # registered concurrently: update that row below
            device = Device.objects.select_for_update().get(token=token)
    if device.user_id != user.pk:
        logger.info("push token moved", extra={"device_id": device.pk, "from_user": device.user_id, "to_user": user.pk})
    device.user, device.platform, device.locale = user, platform, locale
    device.save(update_fields=["user", "platform", "locale", "last_seen_at"])
    return device


def device_unregister(*, user: User, token: str) -> None:
    """Forget one of the user's own devices (sign-out); another user's token is not found."""
    deleted, _ = Device.objects.filter(user=user, token=token).delete()
    if not deleted:
        raise DeviceNotFound()


@transaction.atomic
def preference_update(*, user: User, **changes: Any) -> Preference:
    """Switch kinds on or off and set or clear quiet hours (Nepal time; both or neither)."""
    preference, _ = Preference.objects.select_for_update().get_or_create(user=user)
    for kind in PREFERENCE_KINDS:
        if kind in changes:
            setattr(preference, kind, bool(changes[kind]))
    if "quiet_hours_start" in changes or "quiet_hours_end" in changes:
        start: dtime | None = changes.get("quiet_hours_start", preference.quiet_hours_start)
        end: dtime | None = changes.get("quiet_hours_end", preference.quiet_hours_end)
        if (start is None) != (end is None) or (start is not None and start == end):
            raise QuietHoursInvalid()
        preference.quiet_hours_start, preference.quiet_hours_end = start, end
    preference.save()
    return preference


# --- The inbox ---------------------------------------------------------------------------------


def _unread_forget(user_ids: list[int]) -> None:
    transaction.on_commit(lambda: cache.delete_many([unread_key(user_id) for user_id in user_ids]))


@transaction.atomic
def user_notifications_forget(*, user_id: int) -> None:
    """A deleted account: its devices, inbox and preferences go, so nothing reaches the person any more."""
    Device.objects.filter(user_id=user_id).delete()
    Notification.objects.filter(user_id=user_id).delete()
    Preference.objects.filter(user_id=user_id).delete()
    _unread_forget([user_id])


@transaction.atomic
def notification_mark_read(*, user: User, notification_id: int) -> Notification:
    """Mark one of the user's own items read (idempotent); anyone else's is not found."""
    notification = Notification.objects.select_for_update().filter(pk=notification_id, user=user).first()
    if notification is None:
        raise NotificationNotFound()
    if notification.read_at is None:
        notification.read_at = timezone.now()
        notification.save(update_fields=["read_at"])
        _unread_forget([user.pk])
    return notification


@transaction.atomic
def notifications_mark_all_read(*, user: User) -> int:
    marked = Notification.objects.filter(user=user, read_at__isnull=True).update(read_at=timezone.now())
    _unread_forget([user.pk])
    return marked


@transaction.atomic
def notification_create(
    *, user_id: int, kind: str, params: dict[str, Any], group_key: str = "", count: int = 1
) -> tuple[Notification, bool]:
    """Add an inbox item, or fold it into the user's unread item of the same group_key made within
    NOTIFICATION_GROUP_WINDOW_SECONDS. Returns (item, created); a new item is pushed after commit."""
    if group_key:
        since = timezone.now() - timedelta(seconds=settings.NOTIFICATION_GROUP_WINDOW_SECONDS)
        open_item = (
            Notification.objects.select_for_update()
            .filter(user_id=user_id, group_key=group_key, read_at__isnull=True, created_at__gte=since)
            .order_by("-created_at")
            .first()
        )
        if open_item is not None:
            merged = {**open_item.params, **params}
            merged["count"] = int(open_item.params.get("count", open_item.count)) + count
            merged["coins"] = int(open_item.params.get("coins", 0)) + int(params.get("coins", 0))
            merged["others"] = merged["count"] - 1
            merged["variant"] = "many"
            open_item.params = merged
            open_item.count = F("count") + count
            open_item.save(update_fields=["params", "count", "updated_at"])
            open_item.refresh_from_db(fields=["count"])
            return open_item, False
    notification = Notification.objects.create(
        user_id=user_id, kind=kind, params=params, group_key=group_key, count=count
    )
    _unread_forget([user_id])
    transaction.on_commit(lambda: _push_later(notification.pk))
    return notification, True


def _push_later(notification_id: int) -> None:
    from apps.notifications.tasks import notification_push_task

    notification_push_task.delay(notification_id)


def _push_allowed(preference: Preference, kind: str) -> bool:
    return bool(getattr(preference, kind, True)) and not in_quiet_hours(
        preference.quiet_hours_start, preference.quiet_hours_end
    )


def _device_language(user_language: str, device_locale: str) -> str:
    return language_choose(user_language, device_locale)


def notification_push(*, notification_id: int) -> DeliveryReport:
    """Push one inbox item to its owner's devices in each device's language, unless the kind is off
    or it is the owner's quiet hours (the item stays in the inbox either way). Safe to rerun: an
    item pushed already is not pushed again."""
    notification = Notification.objects.filter(pk=notification_id, pushed_at__isnull=True).first()
    if notification is None:
        return DeliveryReport()
    preference = Preference.objects.filter(user_id=notification.user_id).first() or Preference()
    if not _push_allowed(preference, notification.kind):
        return DeliveryReport()
    devices = Device.objects.filter(user_id=notification.user_id).values_list("pk", "token", "locale", "user__language")
    pushes = []
    for device_id, token, locale, language in devices:
        title, body = notification_text_in(
            language=_device_language(language, locale), kind=notification.kind, params=notification.params
        )
        data = {"kind": notification.kind, "notification_id": str(notification.pk)}
        pushes.append(Push(device_id, token, title, body, data))
    report = pushes_send(pushes)
    if report.sent:
        Notification.objects.filter(pk=notification.pk).update(pushed_at=timezone.now())
    return report


# --- Events from the apps below ----------------------------------------------------------------


def _name_of(user_id: int) -> str:
    row = User.objects.filter(pk=user_id).values_list("display_name", "username").first()
    return (row[0] or row[1]) if row else ""


# One round trip on Redis for digest_add (it runs after every gift's commit): count, add the coins,
# remember the latest actor, and claim the flush of this window (1 when this call claimed it).
_DIGEST_ADD_LUA = """
redis.call('INCR', KEYS[1]); redis.call('EXPIRE', KEYS[1], ARGV[3])
if tonumber(ARGV[1]) > 0 then redis.call('INCRBY', KEYS[2], ARGV[1]); redis.call('EXPIRE', KEYS[2], ARGV[3]) end
redis.call('SET', KEYS[3], ARGV[2], 'EX', ARGV[3])
if redis.call('SET', KEYS[4], 1, 'NX', 'EX', ARGV[4]) then return 1 end
return 0
"""


def digest_add(*, user_id: int, kind: str, actor_id: int, coins: int = 0) -> None:
    """Count an event for the user's next digest (gifts, followers): cheap cache writes; the first
    event of a window schedules the digest's flush at the window's end. Caller: after commit."""
    base = f"notif:digest:{kind}:{user_id}"
    keys = [f"{base}:count", f"{base}:coins", f"{base}:actor", f"{base}:scheduled"]
    window = settings.NOTIFICATION_DIGEST_SECONDS
    script_run = getattr(cache, "script_run", None)
    if script_run is not None:
        claimed = bool(script_run(_DIGEST_ADD_LUA, keys=keys, args=[coins, actor_id, DIGEST_TTL, window + 60]))
    else:
        cache.add(keys[0], 0, DIGEST_TTL)
        cache.incr(keys[0])
        if coins:
            cache.add(keys[1], 0, DIGEST_TTL)
            cache.incr(keys[1], coins)
        cache.set(keys[2], actor_id, DIGEST_TTL)
        claimed = cache.add(keys[3], 1, window + 60)
    if claimed:
        from apps.notifications.tasks import digest_flush_task

        digest_flush_task.apply_async((user_id, kind), countdown=window)


def digest_flush(*, user_id: int, kind: str) -> Notification | None:
    """Turn the events counted since the last flush into one inbox item (folded into the open one
    of the same kind within the group window). The schedule flag goes first: an event counted after
    the counts are taken schedules the next flush itself, so none is lost."""
    base = f"notif:digest:{kind}:{user_id}"
    cache.delete(f"{base}:scheduled")
    count = int(cache.get(f"{base}:count") or 0)
    coins = int(cache.get(f"{base}:coins") or 0)
    actor_id = cache.get(f"{base}:actor")
    if count <= 0:
        return None
    cache.decr(f"{base}:count", count)
    if coins:
        cache.decr(f"{base}:coins", coins)
    actor = _name_of(int(actor_id)) if actor_id else ""
    if kind == Kind.GIFT_RECEIVED:
        params: dict[str, Any] = {"count": count, "coins": coins, "sender": actor, "sender_id": actor_id}
    else:
        params = {"count": count, "others": count - 1, "follower": actor, "follower_id": actor_id}
    params["variant"] = "one" if count == 1 else "many"
    notification, _ = notification_create(user_id=user_id, kind=kind, params=params, group_key=kind, count=count)
    return notification


GIFT_DIGEST_CURSOR_KEY = "notif:gift-digest:after-id"


def gift_digests_collect() -> int:
    """Turn the gifts sent since the last collection into one inbox item per host (folded into the
    host's open gift item within the group window). Run by beat every NOTIFICATION_DIGEST_SECONDS:
    it reads the gift records, so a send itself does no notification work. The cursor is the last
    gift id collected; without one (first run, cache lost) collection starts from now. Returns the
    hosts notified."""
    # One collection at a time (a slow one overlapping the next beat must not notify twice).
    if not cache.add(f"{GIFT_DIGEST_CURSOR_KEY}:running", 1, 300):
        return 0
    try:
        return _gift_digests_collect()
    finally:
        cache.delete(f"{GIFT_DIGEST_CURSOR_KEY}:running")


def _gift_digests_collect() -> int:
    up_to = gift_send_last_id()
    after = cache.get(GIFT_DIGEST_CURSOR_KEY)
    if after is None or int(after) > up_to:
        cache.set(GIFT_DIGEST_CURSOR_KEY, up_to, None)
        return 0
    receipts = gift_receipts_between(after_id=int(after), up_to_id=up_to)
    senders = {
        pk: display or username
        for pk, display, username in User.objects.filter(pk__in={r.last_sender_id for r in receipts}).values_list(
            "pk", "display_name", "username"
        )
    }
    for receipt in receipts:
        params = {
            "count": receipt.sends,
            "coins": receipt.coins,
            "sender": senders.get(receipt.last_sender_id, ""),
            "sender_id": receipt.last_sender_id,
            "variant": "one" if receipt.sends == 1 else "many",
        }
        notification_create(
            user_id=receipt.host_id,
            kind=Kind.GIFT_RECEIVED,
            params=params,
            group_key=Kind.GIFT_RECEIVED,
            count=receipt.sends,
        )
    cache.set(GIFT_DIGEST_CURSOR_KEY, up_to, None)
    return len(receipts)


def moderation_decision_notify(*, user_id: int, action: str, case_id: int, days: int | None) -> Notification | None:
    if action in ("appeal_uphold", "appeal_overturn"):
        variant = "overturned" if action == "appeal_overturn" else "upheld"
        params: dict[str, Any] = {"variant": variant, "case_id": case_id}
        return notification_create(user_id=user_id, kind=Kind.APPEAL_OUTCOME, params=params)[0]
    if (Kind.MODERATION_DECISION, action) not in _known_variants():
        return None
    params = {"variant": action, "case_id": case_id, "days": days or 0}
    return notification_create(user_id=user_id, kind=Kind.MODERATION_DECISION, params=params)[0]


def _known_variants() -> set[tuple[str, str]]:
    from apps.notifications.texts import TEXTS

    return set(TEXTS)


def payment_result_notify(*, user_id: int, payment_id: int, status: str, coins: int) -> Notification:
    variant = "completed" if status == "completed" else "failed"
    params = {"variant": variant, "payment_id": payment_id, "coins": coins, "status": status}
    return notification_create(user_id=user_id, kind=Kind.PAYMENT_RESULT, params=params)[0]


def cashout_result_notify(*, host_id: int, cashout_id: int, approved: bool, coins: int) -> Notification:
    params = {"variant": "approved" if approved else "rejected", "cashout_id": cashout_id, "coins": coins}
    return notification_create(user_id=host_id, kind=Kind.CASHOUT_RESULT, params=params)[0]


def data_export_ready_notify(*, user_id: int, export_id: int, expires_at: str) -> Notification:
    """The export the user asked for (apps.privacy) can be downloaded until `expires_at` (a date and
    time in UTC, as shown)."""
    params = {"export_id": export_id, "expires_at": expires_at}
    return notification_create(user_id=user_id, kind=Kind.DATA_EXPORT, params=params)[0]


# --- Go-live alerts ----------------------------------------------------------------------------


def golive_key(host_id: int, follower_id: int) -> str:
    return f"notif:golive:{host_id}:{follower_id}"


def _claims_take(keys: list[str], seconds: int) -> list[bool]:
    """SET NX EX for each key: True where this call took it. One round trip on Redis."""
    client_and_key = getattr(cache, "client_and_key", None)
    if client_and_key is None or not keys:
        return [cache.add(key, 1, seconds) for key in keys]
    client, _ = client_and_key(keys[0])
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.set(cache.make_and_validate_key(key), 1, ex=seconds, nx=True)
    return [bool(taken) for taken in pipe.execute()]


def golive_fanout(*, stream_id: int) -> int:
    """Split the host's followers into batches of NOTIFICATION_FANOUT_BATCH (by id, keyset) and queue
    one alert task per batch. Returns the number of batches; none when the stream is no longer live."""
    from apps.notifications.tasks import golive_batch_task

    status = stream_status(stream_id=stream_id)
    if status is None or not status.is_live:
        return 0
    stream = stream_get(stream_id=stream_id)
    host = stream.host
    params = {"host": host.name, "host_id": host.pk, "title": stream.title or host.name, "stream_id": stream_id}
    followers = follower_list(user=host).order_by("follower_id").values_list("follower_id", flat=True)
    size = settings.NOTIFICATION_FANOUT_BATCH
    batches, after = 0, 0
    while True:
        ids = list(followers.filter(follower_id__gt=after)[:size])
        if not ids:
            return batches
        golive_batch_task.delay(stream_id, ids, params)
        batches += 1
        after = ids[-1]


def golive_batch(*, stream_id: int, follower_ids: list[int], params: dict[str, Any]) -> DeliveryReport:
    """Alert one batch of followers: only while the stream is still live (a stream ended, by
    moderation or otherwise, alerts nobody more), only followers with go-live alerts on, at most once
    per host and follower per NOTIFICATION_GOLIVE_DEDUPE_MINUTES (a restarted stream does not spam).
    Each gets an inbox item; those outside quiet hours get a push in their language."""
    status = stream_status(stream_id=stream_id)
    if status is None or not status.is_live:
        logger.info("go-live batch skipped: stream not live", extra={"stream_id": stream_id})
        return DeliveryReport()
    host_id = status.host_id
    prefs = {
        row[0]: row[1:]
        for row in Preference.objects.filter(user_id__in=follower_ids).values_list(
            "user_id", "go_live", "quiet_hours_start", "quiet_hours_end"
        )
    }
    wanted = [uid for uid in follower_ids if prefs.get(uid, (True,))[0]]
    taken = _claims_take([golive_key(host_id, uid) for uid in wanted], settings.NOTIFICATION_GOLIVE_DEDUPE_MINUTES * 60)
    alerted = [uid for uid, ok in zip(wanted, taken, strict=True) if ok]
    audible = {uid for uid in alerted if not in_quiet_hours(*prefs.get(uid, (True, None, None))[1:])}
    report = _many_notify(
        kind=Kind.GO_LIVE, user_ids=alerted, params=params, data={"stream_id": str(stream_id)}, pushed=audible
    )
    logger.info("go-live batch", extra={"stream_id": stream_id, "alerted": len(alerted), **report.as_dict()})
    return report


def _many_notify(
    *, kind: str, user_ids: list[int], params: dict[str, Any], data: dict[str, str], pushed: set[int]
) -> DeliveryReport:
    """One inbox item of `kind` each for many users (one insert), and a push in each device's language
    to the devices of those in `pushed`."""
    if not user_ids:
        return DeliveryReport()
    rows = [Notification(user_id=uid, kind=kind, params=params) for uid in user_ids]
    Notification.objects.bulk_create(rows, batch_size=1000)
    cache.delete_many([unread_key(uid) for uid in user_ids])
    texts: dict[str, tuple[str, str]] = {}
    pushes = []
    notification_of = {row.user_id: row.pk for row in rows}
    devices = Device.objects.filter(user_id__in=pushed).values_list(
        "pk", "token", "user_id", "locale", "user__language"
    )
    for device_id, token, user_id, locale, language in devices:
        lang = _device_language(language, locale)
        if lang not in texts:
            texts[lang] = notification_text_in(language=lang, kind=kind, params=params)
        pushes.append(
            Push(
                device_id,
                token,
                *texts[lang],
                {"kind": str(kind), "notification_id": str(notification_of[user_id]), **data},
            )
        )
    report = pushes_send(pushes)
    if report.sent_device_ids:
        users = set(Device.objects.filter(pk__in=report.sent_device_ids).values_list("user_id", flat=True))
        Notification.objects.filter(pk__in=[notification_of[u] for u in users]).update(pushed_at=timezone.now())
    return report


def schedule_reminders_send() -> int:
    """Remind the subscribers of each scheduled stream starting soon (each schedule claimed once by
    the live app), in batches of NOTIFICATION_FANOUT_BATCH. Returns the number of batches queued."""
    from apps.notifications.tasks import schedule_reminder_batch_task

    batches = 0
    for schedule in schedule_reminders_claim():
        starts = timezone.localtime(schedule.starts_at, NEPAL)
        params = {
            "host": schedule.host.name,
            "host_id": schedule.host_id,
            "title": schedule.title or schedule.host.name,
            "schedule_id": schedule.pk,
            "starts_at": f"{starts:%H:%M}",
        }
        ids = schedule_subscriber_ids(schedule=schedule)
        size = settings.NOTIFICATION_FANOUT_BATCH
        for start in range(0, len(ids), size):
            schedule_reminder_batch_task.delay(ids[start : start + size], params)
            batches += 1
    return batches


def schedule_reminder_batch(*, user_ids: list[int], params: dict[str, Any]) -> DeliveryReport:
    """Remind one batch of a schedule's subscribers: an inbox item each, a push unless they turned
    reminders off or are in their quiet hours."""
    prefs = {
        row[0]: row[1:]
        for row in Preference.objects.filter(user_id__in=user_ids).values_list(
            "user_id", "stream_reminder", "quiet_hours_start", "quiet_hours_end"
        )
    }
    # Reminders off, or quiet hours: the item is in the inbox, with no push.
    audible = {uid for uid in user_ids if prefs.get(uid, (True,))[0]}
    audible = {uid for uid in audible if not in_quiet_hours(*prefs.get(uid, (True, None, None))[1:])}
    report = _many_notify(
        kind=Kind.STREAM_REMINDER,
        user_ids=user_ids,
        params=params,
        data={"schedule_id": str(params["schedule_id"])},
        pushed=audible,
    )
    logger.info("schedule reminder batch", extra={"schedule_id": params["schedule_id"], **report.as_dict()})
    return report
