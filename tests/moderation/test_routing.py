"""Model-heavy tasks go to the `moderation` queue (its own worker, one child); everything else to
`celery`. Resolved by Celery's own router, no worker or broker needed."""

from types import SimpleNamespace

import pytest

from apps.moderation.apps import consumes_model_tasks
from halobuzz.celery import app

MODEL_TASKS = {"moderation.frame_score", "reels.reel_process", "wallet.kyc_face_match"}


def queue_of(task_name: str) -> str:
    return app.amqp.router.route({}, task_name)["queue"].name


@pytest.mark.parametrize("name", sorted(MODEL_TASKS))
def test_model_heavy_tasks_are_routed_to_the_moderation_queue(name):
    assert queue_of(name) == "moderation"


@pytest.mark.parametrize(
    "name",
    ["payments.payment_verify", "payments.payments_reconcile", "wallet.ledger_rollup", "moderation.frames_sweep"],
)
def test_other_tasks_stay_on_the_default_queue(name):
    assert queue_of(name) == "celery"


def test_every_registered_task_has_the_queue_meant_for_it():
    # given every task the apps register (Celery's own celery.* tasks aside)
    app.loader.import_default_modules()
    names = {name for name in app.tasks if not name.startswith("celery.")}
    assert MODEL_TASKS <= names
    assert "payments.payment_verify" in names
    # then only the model-heavy ones leave the default queue
    assert {name for name in names if queue_of(name) != "celery"} == MODEL_TASKS


def test_the_frame_task_is_sent_with_the_moderation_routing_key():
    # the queue object the router picks is the declared one, bound under its own name (with Redis a
    # shared routing key would copy every default-queue message into the moderation queue too)
    queue = app.amqp.router.route({}, "moderation.frame_score")["queue"]
    assert queue.routing_key == "moderation"
    assert app.amqp.queues["celery"].routing_key == "celery"


def _worker_app(queues: list[str] | None) -> SimpleNamespace:
    selection = app.amqp.Queues(app.conf.task_queues)
    selection.select(queues)
    return SimpleNamespace(amqp=SimpleNamespace(queues=selection))


@pytest.mark.parametrize(
    ("queues", "warms"),
    [(["moderation"], True), (["celery"], False), (["celery", "moderation"], True), (None, True)],
)
def test_only_a_worker_that_takes_model_tasks_warms_the_model(queues, warms):
    # -Q moderation warms; the general worker (-Q celery) does not; without -Q it consumes both
    assert consumes_model_tasks(_worker_app(queues)) is warms
