from django.apps import AppConfig
from django.conf import settings


class NotificationsConfig(AppConfig):
    name = "apps.notifications"
    label = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        # The apps below announce their events through signals (they must not import this app).
        from apps.accounts.signals import follow_created
        from apps.live.signals import stream_went_live
        from apps.moderation.signals import case_decided
        from apps.notifications import hooks
        from apps.payments.signals import payment_settled
        from apps.wallet.signals import cashout_reviewed

        stream_went_live.connect(hooks.on_stream_went_live, weak=False, dispatch_uid="notifications-golive")
        follow_created.connect(hooks.on_follow_created, weak=False, dispatch_uid="notifications-follow")
        case_decided.connect(hooks.on_case_decided, weak=False, dispatch_uid="notifications-case")
        payment_settled.connect(hooks.on_payment_settled, weak=False, dispatch_uid="notifications-payment")
        cashout_reviewed.connect(hooks.on_cashout_reviewed, weak=False, dispatch_uid="notifications-cashout")
        # Gifts received: collected from the gift records, so a send does no notification work.
        settings.CELERY_BEAT_SCHEDULE["notifications-gift-digests"] = {
            "task": "notifications.gift_digests_collect",
            "schedule": float(settings.NOTIFICATION_DIGEST_SECONDS),
        }
        # Scheduled streams' reminders: the sweep claims each schedule once, so a minute's period
        # reminds at most a minute late.
        settings.CELERY_BEAT_SCHEDULE["notifications-schedule-reminders"] = {
            "task": "notifications.schedule_reminders_send",
            "schedule": float(settings.NOTIFICATION_REMINDER_SWEEP_SECONDS),
        }
