"""Signals payments sends for the apps above it (which it must not import)."""

from django.dispatch import Signal

# A top-up reached an outcome the payer should hear of (completed, failed, canceled, expired),
# inside the transaction that settled it. Arguments: payment_id, user_id, status, coins.
payment_settled = Signal()
