import logging

from django.apps import AppConfig
from django.conf import settings

logger = logging.getLogger(__name__)


def consumes_model_tasks(app) -> bool:
    """Whether this worker takes the model-heavy tasks (no -Q: every declared queue, so yes).

    A general worker (`-Q celery`) never scores a frame: loading the model there would only cost
    each child its memory and a start-up's worth of both cores.
    """
    queue = settings.CELERY_TASK_ROUTES["moderation.frame_score"]["queue"]
    return queue in app.amqp.queues.consume_from


def _warm_in_child(**kwargs) -> None:
    """Prefork: each child process loads and compiles the model before taking a task.

    Children are forked after -Q was applied, so they see the worker's queue selection.
    """
    from celery import current_app

    if consumes_model_tasks(current_app):
        from apps.moderation.classifier import warm

        warm()
        _age_model_load()


def _age_model_load() -> None:
    """Load the age model too (sampled live frames need it): the first sampled frame then waits for nothing."""
    from apps.moderation.age import age_estimator
    from apps.moderation.model_files import ModelUnavailable

    try:
        age_estimator()
    except ModelUnavailable:
        logger.exception("age model unavailable: live frames go without an age estimate")


def _warm_in_main(sender=None, instance=None, **kwargs) -> None:
    """Solo and thread pools run tasks in the main process: warm it there (never before a fork)."""
    pool = getattr(instance, "pool_cls", None)
    name = pool if isinstance(pool, str) else getattr(pool, "__module__", "")
    if any(kind in str(name) for kind in ("solo", "thread")) and consumes_model_tasks(instance.app):
        from apps.moderation.classifier import warm

        warm()
        _age_model_load()


class ModerationConfig(AppConfig):
    name = "apps.moderation"
    label = "moderation"
    verbose_name = "Moderation"

    def ready(self) -> None:
        from celery.signals import celeryd_after_setup, worker_process_init

        from apps.core.content_filter import text_filter_register
        from apps.live.services import chat_checker_register, chat_hold_decider_register, room_action_recorder_register
        from apps.moderation.services import (
            chat_message_check,
            held_message_decide,
            name_allowed,
            room_action_record,
            text_mask,
        )

        # Every room message passes the word filter (live sits below moderation and asks through this).
        chat_checker_register(chat_message_check)
        chat_hold_decider_register(held_message_decide)
        # Room moderators' actions and appointments go into the audit log.
        room_action_recorder_register(room_action_record)
        # Names are refused and titles and bios masked by the same filter (accounts and live ask core).
        text_filter_register(masker=text_mask, judge=name_allowed)

        worker_process_init.connect(_warm_in_child, weak=False, dispatch_uid="moderation-warm-child")
        celeryd_after_setup.connect(_warm_in_main, weak=False, dispatch_uid="moderation-warm-main")
        settings.CELERY_BEAT_SCHEDULE["moderation-frames-sweep"] = {
            "task": "moderation.frames_sweep",
            "schedule": float(settings.MODERATION_FRAME_SWEEP_SECONDS),
        }
