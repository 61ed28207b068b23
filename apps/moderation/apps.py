import logging

from django.apps import AppConfig
from django.conf import settings

logger = logging.getLogger(__name__)


def _warm_in_child(**kwargs) -> None:
    """Prefork: each child process loads and compiles the model before taking a task."""
    from apps.moderation.classifier import warm

    warm()


def _warm_in_main(sender=None, instance=None, **kwargs) -> None:
    """Solo and thread pools run tasks in the main process: warm it there (never before a fork)."""
    pool = getattr(instance, "pool_cls", None)
    name = pool if isinstance(pool, str) else getattr(pool, "__module__", "")
    if any(kind in str(name) for kind in ("solo", "thread")):
        from apps.moderation.classifier import warm

        warm()


class ModerationConfig(AppConfig):
    name = "apps.moderation"
    label = "moderation"
    verbose_name = "Moderation"

    def ready(self) -> None:
        from celery.signals import celeryd_after_setup, worker_process_init

        worker_process_init.connect(_warm_in_child, weak=False, dispatch_uid="moderation-warm-child")
        celeryd_after_setup.connect(_warm_in_main, weak=False, dispatch_uid="moderation-warm-main")
        settings.CELERY_BEAT_SCHEDULE["moderation-frames-sweep"] = {
            "task": "moderation.frames_sweep",
            "schedule": float(settings.MODERATION_FRAME_SWEEP_SECONDS),
        }
