from collections.abc import Callable
from typing import Any

from celery import shared_task

from apps.notifications import services


@shared_task(name="notifications.notification_push")
def notification_push_task(notification_id: int) -> dict[str, float]:
    """Push one inbox item to its owner's devices (rerun: an item pushed already is skipped)."""
    return services.notification_push(notification_id=notification_id).as_dict()


@shared_task(name="notifications.golive_fanout")
def golive_fanout_task(stream_id: int) -> int:
    """Queue the go-live alert batches of a stream that just went live."""
    return services.golive_fanout(stream_id=stream_id)


@shared_task(name="notifications.golive_batch")
def golive_batch_task(stream_id: int, follower_ids: list[int], params: dict[str, Any]) -> dict[str, float]:
    """Alert one batch of followers (rerun: the dedupe window keeps anyone from a second alert)."""
    return services.golive_batch(stream_id=stream_id, follower_ids=follower_ids, params=params).as_dict()


@shared_task(name="notifications.schedule_reminders_send")
def schedule_reminders_send_task() -> int:
    """Beat: queue the reminders of the scheduled streams starting soon (each schedule once)."""
    return services.schedule_reminders_send()


@shared_task(name="notifications.schedule_reminder_batch")
def schedule_reminder_batch_task(user_ids: list[int], params: dict[str, Any]) -> dict[str, float]:
    """Remind one batch of a scheduled stream's subscribers."""
    return services.schedule_reminder_batch(user_ids=user_ids, params=params).as_dict()


@shared_task(name="notifications.gift_digests_collect")
def gift_digests_collect_task() -> int:
    """Beat: one inbox item per host for the gifts sent since the last collection."""
    return services.gift_digests_collect()


@shared_task(name="notifications.digest_flush")
def digest_flush_task(user_id: int, kind: str) -> int | None:
    """Turn the gifts or follows counted in the last window into one inbox item."""
    notification = services.digest_flush(user_id=user_id, kind=kind)
    return notification.pk if notification else None


@shared_task(name="notifications.event_notify")
def event_notify_task(event: str, arguments: dict[str, Any]) -> int | None:
    """An account event from the apps below (moderation, appeal, payment, cash-out) to one inbox item."""
    handlers: dict[str, Callable[..., Any]] = {
        "case_decided": services.moderation_decision_notify,
        "payment_settled": services.payment_result_notify,
        "cashout_reviewed": services.cashout_result_notify,
    }
    notification = handlers[event](**arguments)
    return notification.pk if notification else None
