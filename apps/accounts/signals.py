"""Signals accounts sends for the apps above it (which it must not import)."""

from django.dispatch import Signal

# Every session of a user was revoked (password change, ban, logout-everywhere), inside the
# transaction that did it. Arguments: user_id, reason ("session_revoked" or "banned").
# apps.live closes the user's room sockets after commit.
sessions_revoked = Signal()

# A user edited their profile (name, avatar, language...), inside the transaction that did it.
# Arguments: user_id. apps.live forgets the cached facts of the user's live rooms after commit.
profile_changed = Signal()

# Someone followed a user (a new follow, not a repeat), inside the transaction that made it.
# Arguments: follower_id, followee_id. apps.notifications tells the followee after commit.
follow_created = Signal()
