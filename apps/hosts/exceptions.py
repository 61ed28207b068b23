from django.utils.translation import gettext_lazy as _

from apps.core.exceptions import DomainError


class NotAHost(DomainError):
    code = "not_a_host"
    status = 403
    message = _("Only hosts have earnings: go live once to see them here.")
