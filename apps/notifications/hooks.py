"""The receivers of the lower apps' signals (connected in NotificationsConfig.ready). Each only
queues work after the sender's transaction commits; a failure to queue is logged, never raised into
the sender (its commit already happened)."""

import logging
from collections.abc import Callable
from typing import Any

from django.db import transaction

from apps.notifications.models import Kind

logger = logging.getLogger(__name__)


def _after_commit(work: Callable[[], Any], what: str) -> None:
    def run() -> None:
        try:
            work()
        except Exception:
            logger.exception("notification not queued", extra={"event": what})

    transaction.on_commit(run)


def on_stream_went_live(*, stream_id: int, **kwargs: Any) -> None:
    from apps.notifications.tasks import golive_fanout_task

    _after_commit(lambda: golive_fanout_task.delay(stream_id), "stream_went_live")


def on_follow_created(*, follower_id: int, followee_id: int, **kwargs: Any) -> None:
    from apps.notifications.services import digest_add

    _after_commit(
        lambda: digest_add(user_id=followee_id, kind=Kind.NEW_FOLLOWER, actor_id=follower_id), "follow_created"
    )


def on_case_decided(*, case_id: int, user_id: int, action: str, days: int | None, **kwargs: Any) -> None:
    from apps.notifications.tasks import event_notify_task

    arguments = {"user_id": user_id, "action": str(action), "case_id": case_id, "days": days}
    _after_commit(lambda: event_notify_task.delay("case_decided", arguments), "case_decided")


def on_payment_settled(*, payment_id: int, user_id: int, status: str, coins: int, **kwargs: Any) -> None:
    from apps.notifications.tasks import event_notify_task

    arguments = {"user_id": user_id, "payment_id": payment_id, "status": str(status), "coins": coins}
    _after_commit(lambda: event_notify_task.delay("payment_settled", arguments), "payment_settled")


def on_cashout_reviewed(*, cashout_id: int, host_id: int, approved: bool, coins: int, **kwargs: Any) -> None:
    from apps.notifications.tasks import event_notify_task

    arguments = {"host_id": host_id, "cashout_id": cashout_id, "approved": approved, "coins": coins}
    _after_commit(lambda: event_notify_task.delay("cashout_reviewed", arguments), "cashout_reviewed")
