from django.conf import settings
from django.db import models


class IdempotencyKey(models.Model):
    """The first response to a request sent with an Idempotency-Key, replayed for its retries.

    The unique (user, key) constraint is the lock: a concurrent retry blocks on the insert until
    the first request commits, then replays its response.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request_fingerprint = models.CharField(max_length=64, help_text="SHA-256 of method, path and body.")
    response_status = models.PositiveSmallIntegerField()
    # JSON text, not jsonb: a replay must return the first body as it was, keys in the same order.
    response_body = models.TextField(help_text="The first response's body (JSON).")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotency_user_key_uniq")]
        indexes = [models.Index(fields=["created_at"], name="idempotency_created_idx")]
        # The admin analytics page has no model of its own. Declared here (not only in a data
        # migration) so that Django recreates it after a test flush, like every model permission.
        permissions = [("view_analytics", "Can view the analytics page")]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.key}"
