"""halobuzz.embedded_broker: kombu's SQL transport on a SQLite file, shared by the demo's processes.

Each kombu Connection here has its own SQLAlchemy session, as each process of the demo does.
"""

import sqlite3
from queue import Empty

import pytest
from kombu import Connection
from sqlalchemy import event

from halobuzz.embedded_broker import Transport


@pytest.fixture
def broker(tmp_path):
    path = tmp_path / "celery-broker.sqlite3"
    connections = []

    def connect() -> Connection:
        connection = Connection(f"sqlite:///{path}", transport=Transport)
        connections.append(connection)
        return connection

    yield path, connect
    for connection in connections:
        connection.release()


def rows(path, table: str) -> int:
    with sqlite3.connect(path) as db:
        return db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]  # noqa: S608


def test_a_queue_another_process_created_meanwhile_is_used_not_fatal(broker):
    # given a fresh broker, and a process that is about to create the `celery` queue's row
    path, connect = broker
    worker = connect().default_channel
    beat = connect().default_channel
    worker_session = worker.session

    @event.listens_for(worker_session, "before_flush", once=True)
    def beat_creates_it_first(session, flush_context, instances):
        # between the worker's look and its insert, beat (another process) inserts the same queue
        beat._get_or_create("celery")

    # when the worker declares it (this raised IntegrityError and stopped the worker)
    worker._new_queue("celery")

    # then both use the one row
    assert rows(path, "kombu_queue") == 1
    beat._put("celery", {"body": "from beat"})
    assert worker._get("celery") == {"body": "from beat"}


def test_a_fetched_message_is_deleted_and_messages_come_in_order(broker):
    path, connect = broker
    publisher, consumer = connect().default_channel, connect().default_channel
    for n in range(3):
        publisher._put("celery", {"n": n})

    assert [consumer._get("celery")["n"] for _ in range(2)] == [0, 1]
    assert rows(path, "kombu_message") == 1  # kombu's transport kept both, flagged invisible
    assert consumer._get("celery") == {"n": 2}
    with pytest.raises(Empty):
        consumer._get("celery")
    assert rows(path, "kombu_message") == 0


def test_a_message_published_through_the_transport_reaches_a_consumer(broker):
    _, connect = broker
    with connect() as producer_side, connect() as consumer_side:
        producer_side.SimpleQueue("celery").put({"task": "live.pk_battle_end", "args": [7]})
        queue = consumer_side.SimpleQueue("celery")
        received = queue.get(timeout=10)
        received.ack()
        assert received.payload == {"task": "live.pk_battle_end", "args": [7]}
        with pytest.raises(Empty):
            queue.get(timeout=1)
