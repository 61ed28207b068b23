from apps.core.exceptions import DomainError


class StreamNotLive(DomainError):
    code = "stream_not_live"
    status = 409
    message = "This stream is not live."
