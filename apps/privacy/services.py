"""Deleting an account: at once what hides the person, after the grace period what makes it final.

At the request (re-authenticated): the account is deactivated and every session revoked, streams
end, room-moderator roles end, reels and the avatar are deleted from storage, follows and blocks go,
the push devices and the inbox go,
the display name and bio are blanked (kept on the request for the undo). Within the grace period
the user signs in with the same credentials to undo. After it, `account_deletion_finalise` moves any
coins and host earnings left to platform revenue (balanced ledger entries: money never vanishes)
and anonymises the user row, which stays as the tombstone owning its ledger accounts, gifts and
payments, so `manage.py wallet_audit` stays clean and money history provable.

Data exports are built by a Celery task into the private storage (`data_export_build`); the user is
told in the inbox when one is ready, and it is deleted after DATA_EXPORT_KEEP_HOURS (and at once
when the account's deletion is asked for).
"""

import logging
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.accounts.exceptions import AccountBanned
from apps.accounts.models import User
from apps.accounts.services import (
    tokens_issue,
    user_anonymise,
    user_credentials_check,
    user_deletion_start,
    user_deletion_undo,
    user_password_confirm,
)
from apps.core.exceptions import DomainError
from apps.live.services import user_live_presence_end
from apps.notifications.services import data_export_ready_notify, user_notifications_forget
from apps.privacy.exceptions import DeletionBlockedByCashout, DeletionNotPending, ReauthenticationRequired
from apps.privacy.models import AccountDeletion, DataExport
from apps.privacy.selectors import account_export_zip
from apps.reels.selectors import reel_list_mine
from apps.reels.services import reel_delete
from apps.wallet.selectors import account_available, cashout_unsettled_exists, coins_balance
from apps.wallet.services import account_for_user, coins_account_lock, ledger_post, platform_account
from apps.wallet.types import AccountKind

logger = logging.getLogger(__name__)

CLOSURE_ENTRY_KIND = "account_closure"


def _reauthenticate(*, user: User, password: str | None) -> None:
    """The password when the account has one; otherwise (an account that never set one) a sign-in
    within ACCOUNT_REAUTH_SECONDS. A token refresh is not a sign-in: it does not touch last_login."""
    if user.has_usable_password():
        if not password:
            raise ReauthenticationRequired()
        user_password_confirm(user=user, password=password)
        return
    fresh_since = timezone.now() - timedelta(seconds=settings.ACCOUNT_REAUTH_SECONDS)
    if user.last_login is None or user.last_login < fresh_since:
        raise ReauthenticationRequired()


def _pending_of(user_id: int) -> AccountDeletion | None:
    return AccountDeletion.objects.filter(user_id=user_id, status=AccountDeletion.Status.PENDING).first()


def account_deletion_request(*, user: User, password: str | None = None, reason: str = "") -> AccountDeletion:
    """Delete the user's own account after re-authentication (ReauthenticationRequired,
    WrongPassword). Refused while a cash-out of theirs waits for Finance (DeletionBlockedByCashout).
    Asking again while one is pending returns that one."""
    _reauthenticate(user=user, password=password)
    existing = _pending_of(user.pk)
    if existing is not None:
        return existing
    if cashout_unsettled_exists(host_id=user.pk):
        raise DeletionBlockedByCashout()
    due_at = timezone.now() + timedelta(days=settings.ACCOUNT_DELETION_GRACE_DAYS)
    try:
        with transaction.atomic():
            # Lock order (README "Lock order"): reels, then streams, then the user row.
            reel_ids = list(reel_list_mine(user=user).order_by("pk").values_list("pk", flat=True))
            for reel_id in reel_ids:
                reel_delete(reel_id=reel_id, user=user)
            streams_ended = user_live_presence_end(user_id=user.pk, reason="account_deleted")
            user_notifications_forget(user_id=user.pk)
            restore = user_deletion_start(user=user, due_at=due_at)
            deletion = AccountDeletion.objects.create(
                user=user,
                reason=reason[:300],
                due_at=due_at,
                restore=restore,
                streams_ended=streams_ended,
                reels_deleted=len(reel_ids),
            )
    except IntegrityError:
        # A concurrent request of the same user won the one-pending constraint: it is the answer.
        existing = _pending_of(user.pk)
        if existing is None:
            raise
        return existing
    data_exports_expire(user_id=user.pk)  # nobody downloads them any more: the sessions are gone
    logger.info("account deletion requested", extra={"user_id": user.pk, "deletion_id": deletion.pk})
    return deletion


def account_deletion_undo(*, identifier: str, password: str) -> tuple[User, dict[str, str]]:
    """Undo a pending deletion with the account's credentials, before its grace period ends, and
    sign in. The name and bio come back; the avatar, reels, follows and blocks do not."""
    user = user_credentials_check(identifier=identifier, password=password)
    with transaction.atomic():
        deletion = (
            AccountDeletion.objects.select_for_update()
            .filter(user_id=user.pk, status=AccountDeletion.Status.PENDING)
            .first()
        )
        if deletion is None or deletion.due_at <= timezone.now():
            raise DeletionNotPending()
        user = user_deletion_undo(user=user, restore=deletion.restore)
        deletion.status = AccountDeletion.Status.CANCELLED
        deletion.cancelled_at = timezone.now()
        deletion.restore = {}
        deletion.save(update_fields=["status", "cancelled_at", "restore"])
    logger.info("account deletion undone", extra={"user_id": user.pk, "deletion_id": deletion.pk})
    if user.is_banned:  # undoing a deletion does not lift a ban
        raise AccountBanned.of(user)
    return user, tokens_issue(user=user)


def _forfeit(*, deletion: AccountDeletion, kind: AccountKind, amount: int) -> None:
    if amount <= 0:
        return
    ledger_post(
        kind=CLOSURE_ENTRY_KIND,
        ref=f"{deletion.pk}:{kind}",
        postings=[
            (account_for_user(user_id=deletion.user_id, kind=kind), -amount),
            (platform_account(kind=AccountKind.REVENUE), amount),
        ],
        memo=f"Left on account {deletion.user_id} when its deletion became final",
    )


def account_deletion_finalise(*, deletion_id: int, now: datetime | None = None) -> AccountDeletion:
    """Make a deletion whose grace period is over final (anything else is left as it is, so a rerun
    changes nothing): coins and earnings left go to platform revenue, the user row is anonymised.
    Waits (stays pending) while a cash-out of the user is with Finance."""
    now = now or timezone.now()
    with transaction.atomic():
        deletion = AccountDeletion.objects.select_for_update().get(pk=deletion_id)
        if deletion.status != AccountDeletion.Status.PENDING or deletion.due_at > now:
            return deletion
        if cashout_unsettled_exists(host_id=deletion.user_id):
            logger.info("account deletion waits for a cash-out", extra={"deletion_id": deletion.pk})
            return deletion
        # The coins row lock keeps spends out while the balance is read and moved; earnings are
        # locked and rolled up by ledger_post itself. A credit landing later stays on the tombstone.
        coins_account_lock(user_id=deletion.user_id)
        coins = coins_balance(user_id=deletion.user_id)
        earnings = account_available(account=account_for_user(user_id=deletion.user_id, kind=AccountKind.HOST_EARNINGS))
        _forfeit(deletion=deletion, kind=AccountKind.USER_COINS, amount=coins)
        _forfeit(deletion=deletion, kind=AccountKind.HOST_EARNINGS, amount=earnings)
        user_anonymise(user=deletion.user)
        deletion.status = AccountDeletion.Status.COMPLETED
        deletion.completed_at = now
        deletion.restore = {}
        deletion.coins_forfeited = coins
        deletion.earnings_forfeited = max(earnings, 0)
        deletion.save(update_fields=["status", "completed_at", "restore", "coins_forfeited", "earnings_forfeited"])
    logger.info(
        "account deletion completed",
        extra={"deletion_id": deletion.pk, "user_id": deletion.user_id, "coins": coins, "earnings": earnings},
    )
    return deletion


def account_deletions_finalise_due(*, now: datetime | None = None, limit: int = 500) -> int:
    """Finalise the deletions whose grace period is over, one transaction each; returns how many
    completed. One failing (logged) does not hold up the others; the next sweep retries it."""
    now = now or timezone.now()
    due = list(
        AccountDeletion.objects.filter(status=AccountDeletion.Status.PENDING, due_at__lte=now)
        .order_by("due_at")
        .values_list("pk", flat=True)[:limit]
    )
    completed = 0
    for deletion_id in due:
        try:
            deletion = account_deletion_finalise(deletion_id=deletion_id, now=now)
        except DomainError:
            logger.exception("account deletion not finalised", extra={"deletion_id": deletion_id})
            continue
        completed += deletion.status == AccountDeletion.Status.COMPLETED
    return completed


# --- Data export ---------------------------------------------------------------------------------


def data_export_request(*, user: User) -> DataExport:
    """Ask for a copy of one's own data. While one is being built, asking again returns it (one build
    per user at a time); the build runs in a Celery task once this commits."""
    from apps.privacy.tasks import data_export_build_task  # the task module imports this one

    pending = DataExport.objects.filter(user=user, status=DataExport.Status.PENDING).first()
    if pending is not None:
        return pending
    try:
        with transaction.atomic():
            export = DataExport.objects.create(user=user)
    except IntegrityError:  # a concurrent twin got in first (data_export_one_pending_per_user)
        return DataExport.objects.get(user=user, status=DataExport.Status.PENDING)
    transaction.on_commit(lambda: data_export_build_task.delay(export.pk))
    logger.info("data export requested", extra={"user_id": user.pk, "export_id": export.pk})
    return export


def data_export_build(*, export_id: int) -> DataExport:
    """Build a waiting export: the zip goes to the private storage under a random name, the export
    is ready until DATA_EXPORT_KEEP_HOURS from now, and its owner gets an inbox item (and a push).
    Anything but a waiting export is left as it is, so a rerun changes nothing."""
    export = DataExport.objects.select_related("user").get(pk=export_id)
    if export.status != DataExport.Status.PENDING:
        return export
    content = account_export_zip(user=export.user)  # reads only: no lock held while building
    name = f"halobuzz-export-{secrets.token_urlsafe(16)}.zip"
    with transaction.atomic():
        locked = DataExport.objects.select_for_update().get(pk=export_id)
        if locked.status != DataExport.Status.PENDING:
            return locked
        locked.file.save(name, ContentFile(content), save=False)
        now = timezone.now()
        locked.status, locked.size_bytes = DataExport.Status.READY, len(content)
        locked.ready_at, locked.expires_at = now, now + timedelta(hours=settings.DATA_EXPORT_KEEP_HOURS)
        locked.save(update_fields=["file", "status", "size_bytes", "ready_at", "expires_at"])
        data_export_ready_notify(
            user_id=locked.user_id, export_id=locked.pk, expires_at=f"{locked.expires_at:%Y-%m-%d %H:%M} UTC"
        )
    logger.info("data export ready", extra={"export_id": export_id, "bytes": len(content)})
    return locked


def data_export_failed(*, export_id: int) -> None:
    """The build gave up: the user may ask again."""
    DataExport.objects.filter(pk=export_id, status=DataExport.Status.PENDING).update(status=DataExport.Status.FAILED)


def _export_file_delete(export: DataExport) -> None:
    if export.file:
        export.file.delete(save=False)


def data_exports_expire(*, now: datetime | None = None, user_id: int | None = None) -> int:
    """Delete the files of ready exports past their time (or all of one user's) and mark them
    expired; returns how many. Their links stop working at once: the file is gone."""
    now = now or timezone.now()
    due = DataExport.objects.filter(status=DataExport.Status.READY)
    due = due.filter(user_id=user_id) if user_id is not None else due.filter(expires_at__lte=now)
    expired = 0
    for export in due.order_by("pk")[:1000]:
        _export_file_delete(export)
        expired += DataExport.objects.filter(pk=export.pk, status=DataExport.Status.READY).update(
            status=DataExport.Status.EXPIRED, file=""
        )
    return expired
