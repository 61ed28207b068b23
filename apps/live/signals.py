"""Signals live sends for the apps above it (which it must not import)."""

from django.dispatch import Signal

# A host went live (the stream row is saved; sent inside any transaction the caller holds).
# Arguments: stream_id, host_id. apps.notifications alerts the host's followers after commit.
stream_went_live = Signal()
