"""Row locks of the live app, always taken in this order: streams (several at once in pk order),
then a PK battle. LinkCast rows are changed only while both of their streams are locked."""

from django.utils.translation import gettext_lazy

from apps.core.exceptions import NotFound
from apps.live.models import LinkCast, PkBattle, Stream


def stream_locked(stream_id: int) -> Stream:
    """The stream, locked until the transaction ends; NotFound when there is none."""
    try:
        return Stream.objects.select_for_update().get(pk=stream_id)
    except Stream.DoesNotExist:
        raise NotFound(gettext_lazy("No such stream.")) from None


def linkcast_streams_locked(linkcast_id: int) -> LinkCast:
    """The LinkCast (with both streams and hosts) after locking both of its streams; NotFound when there is none."""
    stream_ids = LinkCast.objects.filter(pk=linkcast_id).values_list("host_stream_id", "guest_stream_id").first()
    if stream_ids is None:
        raise NotFound(gettext_lazy("No such LinkCast."))
    # Both streams locked in pk order: invitations between the same two hosts cannot deadlock.
    list(Stream.objects.select_for_update().filter(pk__in=stream_ids).order_by("pk"))
    return LinkCast.objects.select_related("host_stream__host", "guest_stream__host").get(pk=linkcast_id)


def pk_battle_locked(battle_id: int) -> PkBattle | None:
    """The battle (with its LinkCast's streams), locked until the transaction ends; None when there is none."""
    return (
        PkBattle.objects.select_for_update(of=("self",))
        .select_related("linkcast__host_stream", "linkcast__guest_stream")
        .filter(pk=battle_id)
        .first()
    )
