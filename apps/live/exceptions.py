from django.utils.translation import gettext_lazy as _

from apps.core.exceptions import DomainError


class StreamNotLive(DomainError):
    code = "stream_not_live"
    status = 409
    message = _("This stream is not live.")


class StreamGiftingPaused(DomainError):
    code = "stream_gifting_paused"
    status = 409
    message = _("Gifts to this stream are paused while a moderator reviews it. Try again later.")


class AlreadyLive(DomainError):
    code = "already_live"
    status = 409
    message = _("You already have a live stream; end it first.")


class NotStreamHost(DomainError):
    code = "not_stream_host"
    status = 403
    message = _("Only the host of this stream can do that.")


class KickedFromStream(DomainError):
    code = "kicked"
    status = 403
    message = _("You were removed from this stream.")


class StreamBlocked(DomainError):
    code = "user_blocked"
    status = 403
    message = _("This host has blocked you, or you have blocked them.")


class AgoraNotConfigured(DomainError):
    code = "agora_not_configured"
    status = 503
    message = _("Video is not available: Agora is not configured on this server.")


class NotAuthenticated(DomainError):
    code = "not_authenticated"
    status = 401
    message = _("Sign in first: send a valid access token.")


class ChatRefused(DomainError):
    code = "chat_refused"
    status = 403
    message = _("You cannot chat in this room right now.")


class ChatRateLimited(DomainError):
    code = "chat_rate_limited"
    status = 429
    message = _("You are sending messages too fast.")


class InvalidEvent(DomainError):
    code = "invalid_event"
    status = 400
    message = _("The event is malformed.")


class UnknownEvent(DomainError):
    code = "unknown_event"
    status = 400
    message = _("Unknown event type.")


class LinkCastError(DomainError):
    code = "linkcast_refused"
    status = 409
    message = _("The LinkCast cannot change that way.")


class PkBattleRunning(DomainError):
    code = "pk_running"
    status = 409
    message = _("A PK battle is already running in this LinkCast.")


class PkDurationInvalid(DomainError):
    code = "pk_duration_invalid"
    status = 400
    message = _("Pick one of the allowed PK battle lengths.")


class InvalidCursor(DomainError):
    code = "invalid_cursor"
    status = 400
    message = _("This cursor is not one the list gave out; start again from the first page.")


class NotRoomModerator(DomainError):
    code = "not_room_moderator"
    status = 403
    message = _("Only the host or one of the host's room moderators can do that.")


class RoomModeratorLimit(DomainError):
    code = "room_moderator_limit"
    status = 409
    message = _("You already have the most room moderators allowed; remove one first.")


class RoomModeratorInvalid(DomainError):
    code = "room_moderator_invalid"
    status = 400
    message = _("You cannot appoint yourself as a room moderator.")


class ScheduleTimeInvalid(DomainError):
    code = "schedule_time_invalid"
    status = 400
    message = _("Pick a start time from a few minutes from now up to the most days ahead allowed.")


class ScheduleLimit(DomainError):
    code = "schedule_limit"
    status = 409
    message = _("You already have the most upcoming scheduled streams allowed; cancel one first.")


class ScheduleClosed(DomainError):
    code = "schedule_closed"
    status = 409
    message = _("This scheduled stream has started, was cancelled or was missed.")


class ScheduleOwnSubscription(DomainError):
    code = "schedule_own_subscription"
    status = 400
    message = _("You cannot subscribe to your own scheduled stream.")


class CategoryUnknown(DomainError):
    code = "category_unknown"
    status = 400
    message = _("There is no such category, or it can no longer be chosen. Pick one from the category list.")
