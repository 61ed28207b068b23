"""Sending pushes to devices through FCM: concurrently, retrying what FCM asks us to retry (after
its Retry-After, else an exponential backoff) and forgetting tokens FCM says are dead."""

import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from datetime import time as dtime
from zoneinfo import ZoneInfo

import google.auth.exceptions
from django.conf import settings
from django.utils import timezone
from google.auth.transport.requests import AuthorizedSession

from apps.notifications.fcm import FcmNotConfigured, Outcome, SendResult, fcm_send, fcm_session, fcm_token_ensure
from apps.notifications.models import Device

logger = logging.getLogger(__name__)
NEPAL = ZoneInfo("Asia/Kathmandu")


@dataclass(frozen=True)
class Push:
    device_id: int
    token: str
    title: str
    body: str
    data: dict[str, str]


@dataclass
class DeliveryReport:
    sent: int = 0
    dropped: int = 0
    failed: int = 0
    retries: int = 0
    waited_seconds: float = 0.0
    sent_device_ids: set[int] = field(default_factory=set)

    def as_dict(self) -> dict[str, float]:
        return {
            "sent": self.sent,
            "dropped": self.dropped,
            "failed": self.failed,
            "retries": self.retries,
            "waited_seconds": round(self.waited_seconds, 3),
        }


_pool: tuple[int, ThreadPoolExecutor] | None = None
_pool_lock = threading.Lock()


def _executor() -> ThreadPoolExecutor:
    """One send pool per process (a forked Celery child makes its own)."""
    global _pool
    with _pool_lock:
        if _pool is None or _pool[0] != os.getpid():
            _pool = (os.getpid(), ThreadPoolExecutor(settings.FCM_SEND_CONCURRENCY, thread_name_prefix="fcm"))
        return _pool[1]


def in_quiet_hours(start: dtime | None, end: dtime | None, *, now: datetime | None = None) -> bool:
    """Whether Nepal's wall clock is inside [start, end) (a span may cross midnight)."""
    if start is None or end is None or start == end:
        return False
    local = timezone.localtime(now or timezone.now(), NEPAL).time()
    if start < end:
        return start <= local < end
    return local >= start or local < end


def _sender(session: AuthorizedSession) -> Callable[[Push], SendResult]:
    def send(push: Push) -> SendResult:
        return fcm_send(token=push.token, title=push.title, body=push.body, data=push.data, session=session)

    return send


def pushes_send(pushes: list[Push]) -> DeliveryReport:
    """Send every push; retry the retryable ones in rounds (up to FCM_MAX_ATTEMPTS in all), each round
    after the longest Retry-After FCM gave (else FCM_BACKOFF_SECONDS doubled per round), capped at
    FCM_RETRY_MAX_WAIT. Tokens FCM calls dead (UNREGISTERED, INVALID_ARGUMENT) are deleted."""
    report = DeliveryReport()
    if not pushes:
        return report
    try:
        session = fcm_session()  # looked up once, then shared by the sending threads
    except FcmNotConfigured:
        logger.warning("pushes not sent: FCM is not configured", extra={"count": len(pushes)})
        report.failed = len(pushes)
        return report
    send = _sender(session)
    pending = pushes
    dead: set[int] = set()
    for attempt in range(settings.FCM_MAX_ATTEMPTS):
        try:
            fcm_token_ensure(session)
        except google.auth.exceptions.GoogleAuthError:
            logger.exception("fcm token exchange failed")
            results = [SendResult(Outcome.RETRY, error_code="TOKEN_EXCHANGE")] * len(pending)
        else:
            results = [send(pending[0])] if len(pending) == 1 else list(_executor().map(send, pending))
        retry: list[Push] = []
        waits: list[float] = []
        for push, result in zip(pending, results, strict=True):
            if result.outcome == Outcome.SENT:
                report.sent += 1
                report.sent_device_ids.add(push.device_id)
            elif result.outcome == Outcome.DROP_TOKEN:
                dead.add(push.device_id)
            elif result.outcome == Outcome.RETRY:
                retry.append(push)
                if result.retry_after is not None:
                    waits.append(result.retry_after)
            else:
                report.failed += 1
        if not retry:
            break
        if attempt + 1 == settings.FCM_MAX_ATTEMPTS:
            report.failed += len(retry)
            logger.warning("fcm sends given up after retries", extra={"count": len(retry)})
            break
        wait = max(waits) if waits else settings.FCM_BACKOFF_SECONDS * (2**attempt)
        wait = min(wait, settings.FCM_RETRY_MAX_WAIT)
        report.retries += len(retry)
        report.waited_seconds += wait
        time.sleep(wait)
        pending = retry
    if dead:
        Device.objects.filter(pk__in=dead).delete()
        report.dropped = len(dead)
        logger.info("fcm tokens dropped", extra={"count": len(dead)})
    return report
