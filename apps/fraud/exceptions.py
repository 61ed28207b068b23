from django.utils.translation import gettext_lazy as _

from apps.core.exceptions import DomainError


class FraudCaseNotOpen(DomainError):
    code = "fraud_case_not_open"
    status = 409
    message = _("This fraud case was already decided.")
