"""Signals wallet sends for the apps above it (which it must not import)."""

from django.dispatch import Signal

# Finance approved (paid) or rejected a cash-out, inside the review's transaction.
# Arguments: cashout_id, host_id, approved, coins.
cashout_reviewed = Signal()
