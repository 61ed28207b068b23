"""On synthetic history with real structure the model must beat popularity; the ledger stays sound."""

import io
import re

import pytest
from django.core.management import call_command

from apps.accounts.models import User
from apps.gifts import demo, recommender
from apps.gifts.demo import catalogue_seed as seed_gift_catalogue
from apps.gifts.models import GiftSend
from apps.live.models import Stream
from apps.wallet.selectors import ledger_audit
from tests.accounts.factories import UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("recommender_storage")]


def test_synthetic_history_is_sound_and_the_model_beats_popularity():
    # given the catalogue and a superuser to grant the coins
    seed_gift_catalogue(out=lambda _: None)
    UserFactory(is_superuser=True, is_staff=True)

    # when synthetic history is generated through the gift service
    out = io.StringIO()
    call_command("seed_gift_history", fans=30, hosts=4, days=20, sends=700, seed=11, stdout=out)

    # then every send is real: in the ledger, in the past, from ended streams, and the ledger audits clean
    assert GiftSend.objects.count() == 700
    assert ledger_audit() == []
    assert not Stream.objects.filter(status=Stream.Status.LIVE).exists()
    oldest = GiftSend.objects.order_by("created_at").first().created_at
    newest = GiftSend.objects.order_by("-created_at").first().created_at
    assert (newest - oldest).days >= 10
    assert "700 sends" in out.getvalue()

    # when it is evaluated on a time split
    report = io.StringIO()
    call_command("evaluate_gift_recommender", stdout=report)
    text = report.getvalue()
    model_rate, base_rate = map(float, re.search(r"model: ([\d.]+)  popularity: ([\d.]+)", text).groups())

    # then the model clearly beats the popularity baseline
    assert model_rate >= base_rate + 0.15, text
    result = recommender.recommender_evaluate()
    assert result.test_sends == 140 and result.train_sends == 560

    # and running the generator again adds nothing
    again = io.StringIO()
    call_command("seed_gift_history", stdout=again)
    assert "already exists" in again.getvalue()
    assert GiftSend.objects.count() == 700


def test_the_demo_seeds_history_and_a_model_once():
    seed_gift_catalogue(out=lambda _: None)
    UserFactory(username="admin", is_superuser=True, is_staff=True)
    lines: list[str] = []
    demo.recommender_seed(out=lines.append)
    demo.recommender_seed(out=lines.append)
    assert GiftSend.objects.count() == demo.DEMO_HISTORY["sends"]
    assert recommender.model_active() is not None
    assert sum("trained" in line for line in lines) == 1
    assert User.objects.filter(username__startswith="synth_fan_").count() == demo.DEMO_HISTORY["fans"]


def test_evaluation_needs_history():
    with pytest.raises(Exception, match="Not enough gift history"):
        call_command("evaluate_gift_recommender", stdout=io.StringIO())
