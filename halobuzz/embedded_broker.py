"""The embedded default's Celery broker: kombu's SQL transport on a SQLite file, with three fixes.

- Several processes open a fresh broker at once (the worker, beat, daphne): kombu creates each
  queue's row after looking for it, and the loser of that race got an IntegrityError that stopped
  the worker ("Unrecoverable error") on the demo's first start. The loser now reads the winner's row.
- A fetched message is deleted instead of flagged invisible. Nothing ever reads an invisible row
  again (the transport has no visibility timeout: an unacknowledged message goes back as a new row
  when its worker shuts down), so the flagged rows only piled up, one per beat job.
- Polled every half second instead of kombu's second (one short write lock per queue and poll).

Settings: CELERY_BROKER_URL = "sqlite:///<file>", CELERY_BROKER_TRANSPORT = "halobuzz.embedded_broker:Transport".
"""

from json import loads
from queue import Empty

from kombu.transport import sqlalchemy
from kombu.utils.encoding import bytes_to_str
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError


class Channel(sqlalchemy.Channel):
    def _get_or_create(self, queue):
        try:
            return super()._get_or_create(queue)
        except IntegrityError:  # another process created the queue between our look and our insert
            self.session.rollback()
            return super()._get_or_create(queue)

    def _get(self, queue):
        queue_row = self._get_or_create(queue)
        # Take SQLite's write lock first, so two workers never fetch the same row.
        self.session.execute(text("BEGIN IMMEDIATE TRANSACTION"))
        try:
            message = (
                self.session.query(self.message_cls)
                .filter(self.message_cls.queue_id == queue_row.id)
                .order_by(self.message_cls.sent_at, self.message_cls.id)
                .first()
            )
            if message is None:
                raise Empty()
            self.session.delete(message)
            return loads(bytes_to_str(message.payload))
        finally:
            self.session.commit()


class Transport(sqlalchemy.Transport):
    Channel = Channel
    polling_interval = 0.5
