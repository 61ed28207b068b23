from apps.core.exceptions import DomainError, NotFound


class ReelNotFound(NotFound):
    code = "reel_not_found"
    message = "No such reel."


class VideoTooLarge(DomainError):
    code = "video_too_large"
    status = 413
    message = "The video file is too large."


class VideoTypeNotAllowed(DomainError):
    code = "video_type_not_allowed"
    status = 415
    message = "Upload an MP4, MOV or WebM video."


class VideoUnreadable(DomainError):
    code = "video_unreadable"
    status = 400
    message = "The file could not be read as a video (corrupt or incomplete)."


class VideoDurationOutOfRange(DomainError):
    code = "video_duration_out_of_range"
    status = 400
    message = "The video is too long or too short."


class CommentNotAllowed(DomainError):
    code = "comment_muted"
    status = 403
    message = "You are muted in comments for a while."
