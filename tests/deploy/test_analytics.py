"""The admin analytics page: who may see it, and figures aggregated from the domain tables."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from apps.accounts.models import User
from apps.gifts.services import gift_send
from apps.live.services import stream_go_live, stream_viewer_join
from apps.payments.models import Payment
from tests.accounts.factories import UserFactory
from tests.gifts.factories import GiftFactory
from tests.wallet.factories import fund

URL = "/admin/analytics/"


@pytest.fixture
def analyst(db):
    user = UserFactory(is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_analytics", content_type__app_label="core"))
    return User.objects.get(pk=user.pk)  # fresh permission cache


def payment(user, gateway: str, status: str, *, paisa: int = 50_000, coins: int = 500, bonus: int = 25) -> Payment:
    now = timezone.now()
    return Payment.objects.create(
        user=user,
        package_name="500 coins",
        coins=coins,
        bonus_coins=bonus,
        gateway=gateway,
        amount_paisa=paisa,
        merchant_ref=f"ref-{Payment.objects.count()}-{gateway}-{status}",
        status=status,
        idempotency_key=f"k{Payment.objects.count()}",
        request_fingerprint="f" * 64,
        completed_at=now if status == "completed" else None,
    )


def test_only_staff_with_the_permission_may_see_it(client, db):
    plain_staff = UserFactory(is_staff=True)
    client.force_login(plain_staff)
    assert client.get(URL).status_code == 403
    assert b"analytics-module" not in client.get("/admin/").content
    client.force_login(UserFactory())  # not staff: the admin's login page
    assert client.get(URL).status_code == 302


def test_the_index_links_to_it_for_those_allowed(client, analyst):
    client.force_login(analyst)
    index = client.get("/admin/")
    assert index.status_code == 200
    assert b'href="/admin/analytics/"' in index.content


def test_it_answers_on_empty_tables(client, analyst):
    client.force_login(analyst)
    response = client.get(URL, {"days": 30})
    assert response.status_code == 200
    report = response.context["report"]
    assert report["days"] == 30 and len(report["rows"]) == 30
    assert report["totals"].gifts == 0 and report["gateways"] == [] and report["notes"] == []


@pytest.mark.django_db(transaction=True)
def test_figures_come_from_the_domain_tables(client, analyst):
    # given a host live today, an old user who came back to watch and gift, and one who stayed away
    long_ago = timezone.now() - timedelta(days=40)
    host = UserFactory()
    viewer = UserFactory()
    idle = UserFactory()
    User.objects.filter(pk__in=[viewer.pk, idle.pk]).update(date_joined=long_ago)
    stream = stream_go_live(host=host, title="Dashain special")
    stream_viewer_join(stream_id=stream.pk, user=viewer)
    fund(viewer, 200)
    gift = GiftFactory(coin_price=15)
    gift_send(sender_id=viewer.pk, stream_id=stream.pk, gift_id=gift.pk, quantity=2)
    payment(viewer, "esewa", "completed")
    payment(viewer, "esewa", "completed")
    payment(viewer, "khalti", "failed")
    payment(viewer, "khalti", "pending")
    # when the analyst opens the page
    client.force_login(analyst)
    response = client.get(URL, {"days": 7})
    assert response.status_code == 200
    report = response.context["report"]
    today = report["rows"][0]
    assert today.day == timezone.localdate()
    # then every figure is an aggregate of what happened
    joined_today = User.objects.filter(date_joined__gte=timezone.now() - timedelta(days=1)).count()
    assert today.new_users == joined_today
    assert today.active_users == joined_today + 1  # the returning viewer, not the idle one
    assert (today.gifts, today.gift_coins) == (2, 30)
    assert (today.topups, today.topup_coins, today.topup_npr) == (2, 1050, 1000.0)
    assert today.streams == 1 and today.watch_seconds >= 0
    gateways = {g["gateway"]: g for g in report["gateways"]}
    assert (gateways["esewa"]["started"], gateways["esewa"]["completed"], gateways["esewa"]["npr"]) == (2, 2, 1000.0)
    assert (gateways["khalti"]["failed"], gateways["khalti"]["open"], gateways["khalti"]["paisa"]) == (1, 1, 0)
    kinds = {row["kind"]: row for row in report["ledger"]}
    assert kinds["gift"]["coins"] == 30 and kinds["gift"]["entries"] == 1
    assert report["totals"].gifts == 2
    assert b"Dashain" not in response.content  # aggregates only, no per-stream detail
    assert b'id="analytics-daily"' in response.content


def test_a_reader_that_fails_becomes_a_note_and_the_others_still_answer(db):
    # given the apps' readers plus one whose query fails and one that names no column of the page
    from django.db import connection

    from apps.core.analytics import OpsReads, analytics_report, ops_reads

    def broken(window):
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM table_of_an_app_not_migrated_yet")

    UserFactory()
    extra = OpsReads(
        daily={"broken": broken, "misnamed": lambda window: {timezone.localdate(): {"no_such_column": 1}}},
        sections={"ledger": broken},
    )

    # when the report is made
    report = analytics_report(days=7, reads=[*ops_reads(), extra])

    # then each failure is a note, and the working readers' figures are there
    assert len(report["notes"]) == 3
    assert {note.split(":")[0] for note in report["notes"]} == {"broken", "misnamed", "ledger"}
    assert report["rows"][0].new_users == 1 and report["ledger"] == []
