from django.utils.translation import gettext_lazy as _

from apps.core.exceptions import DomainError


class OgTierUnknown(DomainError):
    code = "og_tier_unknown"
    status = 400
    message = _("No OG tier with that id is on sale.")


class OgDowngradeWhileActive(DomainError):
    code = "og_downgrade_while_active"
    status = 409
    message = _("You cannot move to a lower tier while your membership is active; buy it after it expires.")
