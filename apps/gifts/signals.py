"""Signals gifts sends for the apps above it (which it must not import)."""

from django.dispatch import Signal

# A gift send committed (sent from the send's after-commit work, never for a replay); receivers
# must be cheap and must not raise. Arguments: sender_id, host_id, coins. apps.notifications
# batches them per host.
gift_sent = Signal()
