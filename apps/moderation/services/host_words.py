"""A host's own banned words (applied in their rooms with the platform list), and the audit of
what room moderators do (live records it through the recorder registered here)."""

import logging
from functools import partial
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy

from apps.accounts.models import User
from apps.accounts.services import user_capped_add
from apps.core.exceptions import NotFound
from apps.moderation.exceptions import HostWordExists, HostWordLimit
from apps.moderation.models import HostBannedWord
from apps.moderation.selectors import HOST_WORDS_CACHE_KEY
from apps.moderation.services.sanctions import audit_record

logger = logging.getLogger(__name__)


def _terms_changed(host_id: int) -> None:
    transaction.on_commit(partial(cache.delete, HOST_WORDS_CACHE_KEY.format(host_id=host_id)))


def _clean(term: str) -> str:
    return " ".join(term.split())


@transaction.atomic
def host_word_add(*, host: User, term: str) -> tuple[HostBannedWord, bool]:
    """Ban a word in the host's rooms (at most MODERATION_HOST_WORDS_MAX). A word already on the list
    (in any letter case) changes nothing: (that word, False)."""
    term = _clean(term)
    most = settings.MODERATION_HOST_WORDS_MAX
    word, added = user_capped_add(
        user_id=host.pk,
        rows=HostBannedWord.objects.filter(host_id=host.pk),
        existing=HostBannedWord.objects.filter(host_id=host.pk, term__iexact=term),
        most=most,
        limit_error=HostWordLimit(details={"max": most}),
        create=lambda: HostBannedWord.objects.create(host_id=host.pk, term=term),
    )
    if not added:
        return word, False
    _terms_changed(host.pk)
    return word, True


@transaction.atomic
def host_word_update(*, host: User, word_id: int, term: str) -> HostBannedWord:
    """Change one of the host's words (NotFound for another host's)."""
    word = HostBannedWord.objects.select_for_update().filter(pk=word_id, host_id=host.pk).first()
    if word is None:
        raise NotFound(gettext_lazy("No such word on your list."))
    word.term = _clean(term)
    try:
        with transaction.atomic():
            word.save(update_fields=["term"])
    except IntegrityError:  # the case-insensitive unique constraint decides
        raise HostWordExists() from None
    _terms_changed(host.pk)
    return word


@transaction.atomic
def host_word_delete(*, host: User, word_id: int) -> None:
    deleted, _ = HostBannedWord.objects.filter(pk=word_id, host_id=host.pk).delete()
    if not deleted:
        raise NotFound(gettext_lazy("No such word on your list."))
    _terms_changed(host.pk)


def room_action_record(
    *,
    action: str,
    actor_id: int,
    stream_id: int | None,
    target_user_id: int | None,
    reason: str,
    details: dict[str, Any],
) -> None:
    """One audit line for a room moderator's action or a host's appointment (live calls this inside
    its own transaction, so the line commits with the action)."""
    audit_record(
        action=action,
        reason=reason or action,
        actor=User(pk=actor_id),
        target_user_id=target_user_id,
        stream_id=stream_id,
        details=details,
    )
