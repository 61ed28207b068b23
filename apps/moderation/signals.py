"""Signals moderation sends for the apps above it (which it must not import)."""

from django.dispatch import Signal

# A moderator decided a case about a user (not a dismissal), inside the decision's transaction.
# Arguments: case_id, user_id, action (ModerationAction.Action), days (or None).
# apps.notifications tells the user after commit (appeal_uphold / appeal_overturn: the appeal's outcome).
case_decided = Signal()
