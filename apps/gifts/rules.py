"""The rules of a gift send, each in the two forms the send needs: a SQL condition for the one
statement, and the Python check of the step-by-step path that raises the precise error.

One list serves both paths: the statement ANDs every rule's `sql`, and `send_refusal_raise` runs
every rule's `check` in the same order. Rules owned by another app come from that app (the
sender's standing from accounts, the stream being live from live), each as a SQL twin beside its
Python check. The balance is the wallet's rule, inside its debit.

The SQL conditions read three rows of the statement: `u` the sender (the user table), `s` the
stream (`apps.live.selectors.stream_sql()`) and `g` the gift.
"""

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

from apps.accounts.exceptions import AccountInactive, UserBlocked
from apps.accounts.models import User
from apps.accounts.selectors import blocked_between_sql, is_blocked_between, user_active_adult_sql
from apps.accounts.services import user_require_active_adult
from apps.gifts.exceptions import CannotGiftSelf, GiftNeedsOg
from apps.gifts.selectors import GiftInfo, gift_get_sendable
from apps.live.exceptions import StreamGiftingPaused, StreamNotLive
from apps.live.selectors import StreamHost, stream_gifting_open_sql, stream_host, stream_is_live_sql
from apps.og.selectors import user_can_send_og_gifts


class SendFacts:
    """What the checks of one send read, each fetched once and only when a check needs it."""

    def __init__(self, *, sender_id: int, stream_id: int, gift_id: int) -> None:
        self.sender_id, self.stream_id, self.gift_id = sender_id, stream_id, gift_id

    @cached_property
    def sender(self) -> User:
        """The sender; AccountInactive when there is none."""
        sender = User.objects.filter(pk=self.sender_id).first()
        if sender is None:
            raise AccountInactive()
        return sender

    @cached_property
    def gift(self) -> GiftInfo:
        """The gift from the cached catalogue; GiftUnavailable when unknown or retired."""
        return gift_get_sendable(gift_id=self.gift_id)

    @cached_property
    def stream(self) -> StreamHost:
        """The stream's host and status; NotFound when there is none."""
        return stream_host(stream_id=self.stream_id)


@dataclass(frozen=True)
class GiftRule:
    name: str
    sql: str  # true when the send may go ahead, over u, s and g
    check: Callable[[SendFacts], None]  # raises the rule's error when it does not hold


def _sender_in_good_standing(facts: SendFacts) -> None:
    user_require_active_adult(user=facts.sender)


def _gift_sendable(facts: SendFacts) -> None:
    _ = facts.gift  # GiftUnavailable for an unknown or retired gift


def _stream_live(facts: SendFacts) -> None:
    if not facts.stream.is_live:
        raise StreamNotLive(details={"stream": facts.stream_id})


def _stream_gifting_open(facts: SendFacts) -> None:
    if facts.stream.gifting_paused:
        raise StreamGiftingPaused(details={"stream": facts.stream_id})


def _not_own_stream(facts: SendFacts) -> None:
    if facts.stream.host_id == facts.sender_id:
        raise CannotGiftSelf()


def _not_blocked(facts: SendFacts) -> None:
    if is_blocked_between(user_id=facts.sender_id, other_id=facts.stream.host_id):
        raise UserBlocked()


def _og_gift_allowed(facts: SendFacts) -> None:
    if facts.gift.og_only and not user_can_send_og_gifts(user_id=facts.sender_id):
        raise GiftNeedsOg(details={"gift": facts.gift.id})


GIFT_RULES: tuple[GiftRule, ...] = (
    # active, not banned, adult and not held for an age review
    GiftRule("sender_in_good_standing", user_active_adult_sql("u"), _sender_in_good_standing),
    GiftRule("gift_sendable", "g.is_active", _gift_sendable),
    GiftRule("stream_live", stream_is_live_sql("s"), _stream_live),
    # paused by moderation while a possible minor on the stream is reviewed
    GiftRule("stream_gifting_open", stream_gifting_open_sql("s"), _stream_gifting_open),
    GiftRule("not_own_stream", "s.host_id <> u.id", _not_own_stream),
    GiftRule("not_blocked", f"NOT {blocked_between_sql('u.id', 's.host_id')}", _not_blocked),
    # The statement leaves OG-only gifts to the step-by-step path, which asks the og app.
    GiftRule("og_gift_allowed", "NOT g.og_only", _og_gift_allowed),
)


def send_refusal_raise(facts: SendFacts) -> None:
    """Raise the error of the first rule this send breaks (nothing when all hold)."""
    for rule in GIFT_RULES:
        rule.check(facts)
