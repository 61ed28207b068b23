"""Moderation writes, one module per part: the chat filter (chat), live frames (frames), reel videos
(videos), age checks (age_checks), reports (reports), the moderator queue and its decisions (cases),
appeals (appeals), and what they share: the audit log, suspensions, strikes (sanctions).

Every public name is importable from here. Heavy model code (Keras, OpenCV, dlib, onnxruntime) is
imported inside the functions that need it, so importing this package (reels does) stays cheap.
"""

from apps.moderation.services.age_checks import age_id_document_submit, age_verification_submit
from apps.moderation.services.appeals import appeal_create
from apps.moderation.services.cases import ACTIONS_BY_KIND, GENERAL_ACTIONS, case_act, case_open
from apps.moderation.services.chat import (
    CHAT_MUTE_KEY,
    CHAT_OFFENCES_KEY,
    banned_words_cache_clear,
    chat_message_check,
    chat_mute_until,
    held_message_decide,
    moderation_settings_cache_clear,
    name_allowed,
    text_mask,
)
from apps.moderation.services.frames import (
    frame_age_verdict_apply,
    frame_score,
    frame_submit,
    frame_verdict_apply,
    frames_claim,
    frames_safe_apply,
    frames_sweep,
)
from apps.moderation.services.host_words import host_word_add, host_word_delete, host_word_update, room_action_record
from apps.moderation.services.reports import report_create, report_target_register
from apps.moderation.services.videos import video_check

__all__ = [
    "ACTIONS_BY_KIND",
    "CHAT_MUTE_KEY",
    "CHAT_OFFENCES_KEY",
    "GENERAL_ACTIONS",
    "age_id_document_submit",
    "age_verification_submit",
    "appeal_create",
    "banned_words_cache_clear",
    "case_act",
    "case_open",
    "chat_message_check",
    "chat_mute_until",
    "frame_age_verdict_apply",
    "frame_score",
    "frame_submit",
    "frame_verdict_apply",
    "frames_claim",
    "frames_safe_apply",
    "frames_sweep",
    "host_word_add",
    "host_word_delete",
    "host_word_update",
    "held_message_decide",
    "moderation_settings_cache_clear",
    "name_allowed",
    "report_create",
    "report_target_register",
    "room_action_record",
    "text_mask",
    "video_check",
]
