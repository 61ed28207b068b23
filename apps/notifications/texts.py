"""What each notification says, per kind and variant, rendered in the reader's language.

Templates are marked with gettext_noop and translated when rendered (apps.core.i18n.translate), so
an inbox item reads in the language of whoever reads it, and a push in the device owner's."""

from typing import Any

from django.utils import translation
from django.utils.translation import gettext_noop

from apps.core.i18n import translate
from apps.notifications.models import Kind

# (kind, variant) -> (title, body)
TEXTS: dict[tuple[str, str], tuple[str, str]] = {
    (Kind.GO_LIVE, ""): (gettext_noop("%(host)s is live"), gettext_noop("%(title)s: tap to watch.")),
    (Kind.STREAM_REMINDER, ""): (
        gettext_noop("%(host)s goes live soon"),
        gettext_noop("%(title)s starts at %(starts_at)s."),
    ),
    (Kind.GIFT_RECEIVED, "one"): (gettext_noop("You got a gift"), gettext_noop("%(sender)s sent you a gift.")),
    (Kind.GIFT_RECEIVED, "many"): (
        gettext_noop("You got gifts"),
        gettext_noop("%(count)s gifts worth %(coins)s coins, the latest from %(sender)s."),
    ),
    (Kind.NEW_FOLLOWER, "one"): (gettext_noop("New follower"), gettext_noop("%(follower)s started following you.")),
    (Kind.NEW_FOLLOWER, "many"): (
        gettext_noop("New followers"),
        gettext_noop("%(follower)s and %(others)s others started following you."),
    ),
    (Kind.MODERATION_DECISION, "warn"): (
        gettext_noop("A warning from the moderators"),
        gettext_noop("A moderator warned you. See the details under Moderation."),
    ),
    (Kind.MODERATION_DECISION, "end_stream"): (
        gettext_noop("Your stream was ended"),
        gettext_noop("A moderator ended your stream. You may appeal under Moderation."),
    ),
    (Kind.MODERATION_DECISION, "suspend"): (
        gettext_noop("Your account is suspended"),
        gettext_noop("Suspended for %(days)s days. You may appeal under Moderation."),
    ),
    (Kind.MODERATION_DECISION, "ban"): (
        gettext_noop("Your account is banned"),
        gettext_noop("A moderator banned your account. You may appeal under Moderation."),
    ),
    (Kind.MODERATION_DECISION, "age_approve"): (
        gettext_noop("Age verified"),
        gettext_noop("Your age check was approved."),
    ),
    (Kind.MODERATION_DECISION, "age_reject"): (
        gettext_noop("Age check not approved"),
        gettext_noop("Your age check was not approved. See Age verification for what to do."),
    ),
    (Kind.APPEAL_OUTCOME, "upheld"): (
        gettext_noop("Your appeal was decided"),
        gettext_noop("The decision stands after review."),
    ),
    (Kind.APPEAL_OUTCOME, "overturned"): (
        gettext_noop("Your appeal was accepted"),
        gettext_noop("The decision was lifted after review."),
    ),
    (Kind.PAYMENT_RESULT, "completed"): (
        gettext_noop("Top-up complete"),
        gettext_noop("%(coins)s coins were added to your wallet."),
    ),
    (Kind.PAYMENT_RESULT, "failed"): (
        gettext_noop("Top-up not completed"),
        gettext_noop("Your top-up did not go through. No coins were charged to your wallet."),
    ),
    (Kind.CASHOUT_RESULT, "approved"): (
        gettext_noop("Cash-out paid"),
        gettext_noop("Your cash-out of %(coins)s coins was paid."),
    ),
    (Kind.DATA_EXPORT, ""): (
        gettext_noop("Your data is ready"),
        gettext_noop("Download the copy of your data you asked for under Privacy before %(expires_at)s."),
    ),
    (Kind.CASHOUT_RESULT, "rejected"): (
        gettext_noop("Cash-out declined"),
        gettext_noop("Your cash-out of %(coins)s coins was declined; the coins are back in your earnings."),
    ),
}


def notification_text(*, kind: str, params: dict[str, Any]) -> tuple[str, str]:
    """(title, body) in the active language."""
    title, body = TEXTS[(kind, str(params.get("variant", "")))]
    values = {name: value for name, value in params.items() if name != "variant"}
    return translate(title, **values) if "%(" in title else translate(title), translate(body, **values)


def notification_text_in(*, language: str, kind: str, params: dict[str, Any]) -> tuple[str, str]:
    with translation.override(language):
        return notification_text(kind=kind, params=params)
