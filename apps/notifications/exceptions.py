from django.utils.translation import gettext_lazy as _

from apps.core.exceptions import DomainError


class NotificationNotFound(DomainError):
    code = "notification_not_found"
    status = 404
    message = _("No such notification.")


class DeviceNotFound(DomainError):
    code = "device_not_found"
    status = 404
    message = _("No such device is registered to you.")


class QuietHoursInvalid(DomainError):
    code = "quiet_hours_invalid"
    status = 400
    message = _("Give both quiet_hours_start and quiet_hours_end, or neither, and make them differ.")
