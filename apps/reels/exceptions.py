from django.utils.translation import gettext_lazy as _

from apps.core.exceptions import DomainError, NotFound


class ReelNotFound(NotFound):
    code = "reel_not_found"
    message = _("No such reel.")


class HashtagNotFound(NotFound):
    code = "hashtag_not_found"
    message = _("No reel has used this hashtag.")


class VideoTooLarge(DomainError):
    code = "video_too_large"
    status = 413
    message = _("The video file is too large.")


class VideoTypeNotAllowed(DomainError):
    code = "video_type_not_allowed"
    status = 415
    message = _("Upload an MP4, MOV or WebM video.")


class VideoUnreadable(DomainError):
    code = "video_unreadable"
    status = 400
    message = _("The file could not be read as a video (corrupt or incomplete).")


class VideoDurationOutOfRange(DomainError):
    code = "video_duration_out_of_range"
    status = 400
    message = _("The video is too long or too short.")


class CommentNotAllowed(DomainError):
    code = "comment_muted"
    status = 403
    message = _("You are muted in comments for a while.")
