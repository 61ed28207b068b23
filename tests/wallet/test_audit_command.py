import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from apps.wallet.models import Account
from tests.wallet.factories import fund

pytestmark = pytest.mark.django_db


def test_audit_passes_on_a_sound_ledger(user, capsys):
    fund(user, 250)
    call_command("wallet_audit")
    assert "wallet audit passed" in capsys.readouterr().out


def test_audit_fails_with_a_clear_report_when_a_balance_is_tampered(user, capsys):
    # given a sound ledger whose stored balance someone raises behind its back (the triggers allow it)
    fund(user, 250)
    account = Account.objects.get(owner=user)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE wallet_account SET balance = balance + 1000 WHERE id = %s", [account.pk])

    # when the audit runs, then it fails naming the account, the stored balance and the postings' sum
    with pytest.raises(CommandError, match="wallet audit failed: 1 problem"):
        call_command("wallet_audit")
    err = capsys.readouterr().err
    assert (
        f"account #{account.pk} (user_coins, owner {user.pk}): stored balance 1250 != sum of applied postings 250"
        in err
    )
