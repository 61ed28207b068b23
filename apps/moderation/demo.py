"""Demo data: a few reports so the moderator queue has work on the embedded default (no model loading here)."""

from collections.abc import Callable

from django.conf import settings

from apps.accounts.models import User
from apps.live.stream_status import host_active_stream_ids
from apps.moderation.models import Case, Report
from apps.moderation.selectors import moderation_settings_get
from apps.moderation.services import report_create


def seed(*, out: Callable[[str], None]) -> None:
    users = {u.username: u for u in User.objects.filter(username__in=["host", "host2", "viewer", "viewer2"])}
    if len(users) < 4:
        out("moderation: demo users missing; skipped")
        return
    moderation_settings_get()
    stream_id = next(iter(host_active_stream_ids(host_id=users["host"].pk)), None)
    if stream_id is not None:
        for name in ("viewer", "viewer2"):
            report_create(
                reporter=users[name],
                target_type=Case.TargetType.STREAM,
                target_id=stream_id,
                reason=Report.Reason.NUDITY,
                details="Inappropriate outfit on camera",
            )
        report_create(
            reporter=users["viewer"],
            target_type=Case.TargetType.CHAT_MESSAGE,
            target_id=1,
            reason=Report.Reason.HARASSMENT,
            stream_id=stream_id,
            author_id=users["host2"].pk,
            message_text="timi ta ekdam bekar chau",
        )
    report_create(
        reporter=users["viewer2"], target_type=Case.TargetType.USER, target_id=users["host2"].pk, reason="spam"
    )
    pending = Case.objects.filter(status=Case.Status.OPEN).count()
    out(f"Moderation queue ({pending} open): {settings.SITE_URL}/admin/moderation/case/ (sign in as moderator)")
