from django.utils.translation import gettext_lazy as _

from apps.core.exceptions import Conflict, DomainError, NotFound, PermissionDenied


class ImageUnreadable(DomainError):
    code = "image_unreadable"
    status = 400
    message = _("The file is not a readable JPEG, PNG or WebP image.")


class ImageTooLarge(DomainError):
    code = "image_too_large"
    status = 413
    message = _("The image is too large.")


class ImageTooSmall(DomainError):
    code = "image_too_small"
    status = 400
    message = _("The image is too small.")


class NoFaceFound(DomainError):
    code = "no_face"
    status = 400
    message = _("No face was found. Take the selfie facing the camera in good light.")


class SeveralFaces(DomainError):
    code = "several_faces"
    status = 400
    message = _("More than one face was found. Take the selfie alone.")


class AgeCheckNotAllowed(Conflict):
    code = "age_check_not_allowed"
    message = _("An age check cannot be submitted now.")


class NotStreamHost(PermissionDenied):
    code = "not_stream_host"
    message = _("Only the host of this stream can upload its frames.")


class StreamNotActive(Conflict):
    code = "stream_not_live"
    message = _("This stream is not live.")


class NotModerator(PermissionDenied):
    code = "not_moderator"
    message = _("Only moderators can act on moderation cases.")


class CaseClosed(Conflict):
    code = "case_closed"
    message = _("This case was already decided.")


class ActionNotAllowed(DomainError):
    code = "action_not_allowed"
    status = 400
    message = _("That action does not apply to this case.")


class ReportTargetNotFound(NotFound):
    code = "report_target_not_found"
    message = _("What you reported does not exist.")


class CannotReportSelf(DomainError):
    code = "cannot_report_self"
    status = 400
    message = _("You cannot report yourself.")


class EnforcementNotFound(NotFound):
    message = _("No such enforcement.")


class AlreadyAppealed(Conflict):
    code = "already_appealed"
    message = _("This enforcement was already appealed; each can be appealed once.")


class AppealNotAllowed(Conflict):
    code = "appeal_not_allowed"
    message = _("This enforcement cannot be appealed.")


class HostWordLimit(DomainError):
    code = "host_word_limit"
    status = 409
    message = _("Your banned-word list is full; remove a word first.")


class HostWordExists(DomainError):
    code = "host_word_exists"
    status = 409
    message = _("That word is already on your banned-word list.")


class HeldMessageNotFound(NotFound):
    code = "held_message_not_found"
    message = _("No such message is waiting for review.")


class HeldMessageNotYours(PermissionDenied):
    code = "held_message_not_yours"
    message = _("Only the host, a room moderator or staff can approve or reject held messages.")


class HeldMessageDecided(Conflict):
    code = "held_message_decided"
    message = _("This message has already been approved or rejected.")
