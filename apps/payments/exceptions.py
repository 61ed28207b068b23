from django.utils.translation import gettext_lazy as _

from apps.core.exceptions import DomainError


class GatewayUnavailable(DomainError):
    code = "gateway_unavailable"
    status = 502
    message = _("The payment gateway did not answer; try again.")


class GatewayRejected(DomainError):
    code = "gateway_rejected"
    status = 502
    message = _("The payment gateway refused the payment.")


class GatewayNotConfigured(DomainError):
    code = "gateway_not_configured"
    status = 503
    message = _("This payment gateway is not configured.")


class PaymentInProgress(DomainError):
    code = "payment_in_progress"
    status = 409
    message = _("A payment with this Idempotency-Key is still being set up; retry in a moment.")


class PaymentAttemptFailed(DomainError):
    code = "payment_attempt_failed"
    status = 409
    message = _("This Idempotency-Key belongs to a payment attempt that could not be started; use a new key.")


class RefundNotSettleable(DomainError):
    code = "refund_not_settleable"
    status = 409
    message = _("Only a refunded top-up whose coins were spent, not yet settled, can be settled this way.")
