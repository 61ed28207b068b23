from apps.core.exceptions import NotFound
from apps.live.models import Stream


def stream_get(*, stream_id: int) -> Stream:
    try:
        return Stream.objects.select_related("host").get(pk=stream_id)
    except Stream.DoesNotExist:
        raise NotFound("No such stream.") from None
