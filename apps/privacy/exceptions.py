from django.utils.translation import gettext_lazy as _

from apps.core.exceptions import DomainError


class ReauthenticationRequired(DomainError):
    code = "reauthentication_required"
    status = 403
    message = _("Confirm it is you: enter your password, or sign in again and retry within a few minutes.")


class DeletionBlockedByCashout(DomainError):
    code = "deletion_blocked_by_cashout"
    status = 409
    message = _("A cash-out of yours is waiting for Finance. Delete the account after it is paid or rejected.")


class DeletionNotPending(DomainError):
    code = "deletion_not_pending"
    status = 409
    message = _("This account has no deletion to undo.")


class DataExportNotFound(DomainError):
    code = "data_export_not_found"
    status = 404
    message = _("No such data export of yours.")
