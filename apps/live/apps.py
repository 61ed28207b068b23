from django.apps import AppConfig
from django.conf import settings


class LiveConfig(AppConfig):
    name = "apps.live"
    label = "live"
    verbose_name = "Live streams"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from apps.accounts.services import block_listener_register, unblock_listener_register
        from apps.accounts.signals import profile_changed, sessions_revoked
        from apps.live.categories import category_cache_clear
        from apps.live.events import user_sockets_close
        from apps.live.models import Category
        from apps.live.search import stream_search_text_refresh_of_host
        from apps.live.services import (
            stream_facts_forget_of_host,
            stream_facts_forget_on_unblock,
            stream_sockets_close_on_block,
        )

        def categories_changed(**kwargs: object) -> None:
            category_cache_clear()

        post_save.connect(categories_changed, sender=Category, weak=False, dispatch_uid="live-category-saved")
        post_delete.connect(categories_changed, sender=Category, weak=False, dispatch_uid="live-category-deleted")
        block_listener_register(stream_sockets_close_on_block)
        unblock_listener_register(stream_facts_forget_on_unblock)

        def facts_forget(*, user_id: int, **kwargs: object) -> None:
            stream_facts_forget_of_host(user_id=user_id)  # after commit
            stream_search_text_refresh_of_host(user_id=user_id)

        profile_changed.connect(facts_forget, weak=False, dispatch_uid="live-profile-changed")

        def sockets_close(*, user_id: int, reason: str, **kwargs: object) -> None:
            user_sockets_close(user_id=user_id, reason=reason)  # after commit

        sessions_revoked.connect(sockets_close, weak=False, dispatch_uid="live-sessions-revoked")
        settings.CELERY_BEAT_SCHEDULE["live-streams-end-silent"] = {
            "task": "live.streams_end_silent",
            "schedule": float(settings.LIVE_SILENT_CHECK_SECONDS),
        }
        settings.CELERY_BEAT_SCHEDULE["live-trending-refresh"] = {
            "task": "live.trending_refresh",
            "schedule": float(settings.LIVE_TRENDING_SECONDS),
        }
        # A battle's end task can be lost (worker restart): the sweep ends overdue battles.
        settings.CELERY_BEAT_SCHEDULE["live-pk-battles-end-overdue"] = {
            "task": "live.pk_battles_end_overdue",
            "schedule": float(settings.LIVE_PK_SWEEP_SECONDS),
        }
