"""Money: the wallet and cash-outs, coin packages and payments, gifts, OG tiers and games."""

import io
import uuid
from datetime import date

from django.utils import timezone
from PIL import Image

from tests.accounts.factories import UserFactory
from tests.contract.runner import Contract
from tests.contract.scenarios import drives
from tests.games.factories import game_create
from tests.gifts.factories import GiftFactory
from tests.live.factories import LiveStreamFactory
from tests.og.factories import OgTierFactory
from tests.payments.factories import CoinPackageFactory
from tests.wallet.factories import KycSubmissionFactory, PayoutDestinationFactory, fund, payout_ready


def _key() -> str:
    return uuid.uuid4().hex


@drives("gift_catalogue", "gift_send", "wallet_balance", "wallet_history")
def gifting(contract: Contract) -> None:
    viewer, stream = UserFactory(), LiveStreamFactory()
    rose = GiftFactory(coin_price=10)
    client = contract.as_user(viewer)
    contract.call("gift_catalogue", client, status=200)
    contract.throttle("gift_catalogue")  # a public list's only client error
    send = contract.body("gift_send", {"stream": stream.pk, "gift": rose.pk, "quantity": 1})
    contract.call("gift_send", client, status=409, code="insufficient_coins", body=send, idempotency_key=_key())
    fund(viewer, 100)
    contract.call("gift_send", client, status=201, body=send, idempotency_key=_key())
    contract.call("wallet_balance", client, status=200)
    contract.call("wallet_history", client, status=200)


@drives("gift_leaderboard_gifters", "gift_leaderboard_hosts", "gift_leaderboard_stream", "gift_recommendations")
def leaderboards(contract: Contract) -> None:
    viewer, stream = UserFactory(), LiveStreamFactory()
    client = contract.as_user(viewer)
    for operation_id in ("gift_leaderboard_gifters", "gift_leaderboard_hosts"):
        contract.call(operation_id, client, status=200, period=contract.arg(operation_id, "period", "week"))
        contract.call(operation_id, client, status=400, code="invalid", limit=0)
    contract.call("gift_leaderboard_stream", client, status=200, stream_id=stream.pk)
    contract.call("gift_leaderboard_stream", client, status=400, code="invalid", stream_id=stream.pk, limit=0)
    contract.call("gift_recommendations", client, status=200, stream=stream.pk)
    contract.call("gift_recommendations", client, status=404, code="not_found", stream=10**9)


@drives("gift_host_statement", "wallet_cashout_create", "wallet_cashout_list")
def host_earnings(contract: Contract) -> None:
    host, fan = UserFactory(), UserFactory()
    stream = LiveStreamFactory(host=host)
    fund(fan, 5_000)
    crown = GiftFactory(coin_price=5_000)
    send = contract.body("gift_send", {"stream": stream.pk, "gift": crown.pk, "quantity": 1})
    contract.call("gift_send", contract.as_user(fan), status=201, body=send, idempotency_key=_key())
    client = contract.as_user(host)
    payout_ready(host)
    statement = contract.call("gift_host_statement", client, status=200)
    assert statement.splitlines()[0]  # a CSV with its header row
    contract.call(
        "gift_host_statement", client, status=400, code="invalid", from_=date(2026, 2, 1), to=date(2026, 1, 1)
    )
    too_little = contract.body("wallet_cashout_create", {"coins": 1})
    contract.call(
        "wallet_cashout_create",
        client,
        status=400,
        code="cashout_below_minimum",
        body=too_little,
        idempotency_key=_key(),
    )
    enough = contract.body("wallet_cashout_create", {"coins": 1_000})
    contract.call("wallet_cashout_create", client, status=201, body=enough, idempotency_key=_key())
    contract.call("wallet_cashout_list", client, status=200)


@drives("host_earnings", "host_statement_pdf")
def host_earnings_at_a_glance(contract: Contract) -> None:
    host, fan = UserFactory(), UserFactory()
    stream = LiveStreamFactory(host=host)
    fund(fan, 100)
    send = contract.body("gift_send", {"stream": stream.pk, "gift": GiftFactory(coin_price=100).pk, "quantity": 1})
    contract.call("gift_send", contract.as_user(fan), status=201, body=send, idempotency_key=_key())
    client = contract.as_user(host)
    earnings = contract.call("host_earnings", client, status=200, period="7d")
    assert earnings.totals.gifts == 1 and earnings.streams[0].id == stream.pk
    contract.call("host_earnings", client, status=400, code="invalid", period="fortnight")
    contract.call("host_earnings", contract.as_user(fan), status=403, code="not_a_host")
    month = timezone.localdate().strftime("%Y-%m")
    statement = contract.call("host_statement_pdf", client, status=200, month=month)
    assert statement.payload.read().startswith(b"%PDF")
    contract.call("host_statement_pdf", client, status=400, code="invalid", month="2026-13")


@drives("wallet_spending_controls", "wallet_spending_controls_update")
def spending_controls(contract: Contract) -> None:
    client = contract.as_user(UserFactory())
    contract.call("wallet_spending_controls", client, status=200)
    lower = contract.body("wallet_spending_controls_update", {"daily_limit": 500, "paused": True})
    contract.call("wallet_spending_controls_update", client, status=200, body=lower)
    negative = contract.body("wallet_spending_controls_update", {"monthly_limit": -1})
    contract.call("wallet_spending_controls_update", client, status=400, code="invalid", body=negative)


@drives("payments_package_list", "payments_create", "payments_list", "payments_detail", "payments_verify")
def payments(contract: Contract) -> None:
    buyer, stranger = UserFactory(), UserFactory()
    package = CoinPackageFactory()
    client = contract.as_user(buyer)
    contract.call("payments_package_list", contract.anonymous(), status=200)
    contract.throttle("payments_package_list")  # a public list's only client error
    start = contract.body("payments_create", {"package": package.pk, "gateway": "esewa"})
    payment = contract.call("payments_create", client, status=201, body=start, idempotency_key=_key())
    unknown = contract.body("payments_create", {"package": 10**9, "gateway": "esewa"})
    contract.call("payments_create", client, status=400, code="invalid", body=unknown, idempotency_key=_key())
    contract.call("payments_list", client, status=200)
    contract.call("payments_detail", client, status=200, payment_id=payment.id)
    contract.call("payments_detail", contract.as_user(stranger), status=404, code="not_found", payment_id=payment.id)
    contract.call("payments_verify", client, status=202, payment_id=payment.id)
    contract.call("payments_verify", contract.as_user(stranger), status=404, code="not_found", payment_id=payment.id)


@drives("og_tier_list", "og_buy", "og_me")
def og(contract: Contract) -> None:
    buyer = UserFactory()
    tier = OgTierFactory(price_coins=1_000)
    client = contract.as_user(buyer)
    contract.call("og_tier_list", client, status=200)
    buy = contract.body("og_buy", {"tier": tier.pk})
    contract.call("og_buy", client, status=409, code="insufficient_coins", body=buy, idempotency_key=_key())
    fund(buyer, 1_000)
    contract.call("og_buy", client, status=201, body=buy, idempotency_key=_key())
    contract.call("og_me", client, status=200)


@drives("games_list", "games_play", "games_rounds", "games_round_verify", "games_seed", "games_seed_rotate")
def games(contract: Contract) -> None:
    player = UserFactory()
    game_create(slug="spin_wheel")
    client = contract.as_user(player)
    contract.call("games_list", client, status=200)
    play = contract.body("games_play", {"bet": 10})
    contract.call(
        "games_play",
        client,
        status=409,
        code="insufficient_coins",
        game="spin_wheel",
        body=play,
        idempotency_key=_key(),
    )
    contract.call(
        "games_play", client, status=404, code="game_not_found", game="no_such_game", body=play, idempotency_key=_key()
    )
    fund(player, 100)
    played = contract.call("games_play", client, status=201, game="spin_wheel", body=play, idempotency_key=_key())
    contract.call("games_rounds", client, status=200)
    contract.call("games_seed", client, status=200)
    contract.call(
        "games_seed_rotate", client, status=200, body=contract.body("games_seed_rotate", {"client_seed": "mine"})
    )
    contract.call(
        "games_seed_rotate",
        client,
        status=400,
        code="invalid",
        body=contract.body("games_seed_rotate", {"client_seed": "x" * 500}),
    )
    contract.call(
        "games_round_verify",
        contract.anonymous(),
        status=200,
        round_id=played.round_.id if hasattr(played, "round_") else played.id,
    )
    contract.call("games_round_verify", contract.anonymous(), status=404, code="round_not_found", round_id=10**9)


def _png(contract: Contract, name: str) -> object:
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 120, 90)).save(out, format="PNG")
    return contract.package.types.File(payload=io.BytesIO(out.getvalue()), file_name=name, mime_type="image/png")


@drives(
    "wallet_kyc",
    "wallet_kyc_submit",
    "wallet_payout_destinations",
    "wallet_payout_destination_add",
    "wallet_payout_destination_confirm",
    "wallet_payout_destination_default_set",
    "wallet_payout_destination_remove",
)
def host_payout_setup(contract: Contract) -> None:
    host = UserFactory()
    client = contract.as_user(host)
    contract.call("wallet_kyc", client, status=200)
    destination = {"rail": "esewa", "account_id": "9806800001", "account_name": "Sita Sharma"}
    contract.call(
        "wallet_payout_destination_add",
        client,
        status=403,
        code="kyc_required",
        body=contract.body("wallet_payout_destination_add", destination),
    )
    kyc = contract.body(
        "wallet_kyc_submit",
        {
            "legal_name": "Sita Sharma",
            "document_type": "citizenship",
            "document_number": "27-01-75-01234",
            "date_of_birth": host.date_of_birth.isoformat(),
            "id_image": b"",
            "selfie": b"",
        },
    )
    kyc.id_image, kyc.selfie = _png(contract, "id.png"), _png(contract, "selfie.png")
    contract.call("wallet_kyc_submit", client, status=201, body=kyc)
    contract.call("wallet_kyc_submit", client, status=409, code="kyc_already_submitted", body=kyc)
    # Finance approves in the admin (tests/wallet/test_payouts.py drives that); here the approved check is given
    KycSubmissionFactory(user=host)
    added = contract.call(
        "wallet_payout_destination_add",
        client,
        status=201,
        body=contract.body("wallet_payout_destination_add", destination),
    )
    contract.call("wallet_payout_destinations", client, status=200)
    wrong = contract.body("wallet_payout_destination_confirm", {"code": "000000"})
    contract.call(
        "wallet_payout_destination_confirm",
        client,
        status=409,
        code="payout_destination_not_awaiting_code",
        destination_id=added.id,
        body=wrong,
    )
    awaiting = PayoutDestinationFactory(host=host, account_id="9806800002", status="awaiting_code")
    right = contract.body("wallet_payout_destination_confirm", {"code": awaiting.verify_code})
    contract.call("wallet_payout_destination_confirm", client, status=200, destination_id=awaiting.id, body=right)
    theirs = PayoutDestinationFactory()
    contract.call(
        "wallet_payout_destination_confirm",
        client,
        status=404,
        code="payout_destination_not_found",
        destination_id=theirs.pk,
        body=wrong,
    )
    contract.call(
        "wallet_payout_destination_remove",
        client,
        status=404,
        code="payout_destination_not_found",
        destination_id=theirs.pk,
    )
    contract.call(
        "wallet_payout_destination_default_set",
        client,
        status=409,
        code="payout_destination_not_verified",
        destination_id=added.id,
    )
    contract.call(
        "wallet_payout_destination_default_set",
        client,
        status=404,
        code="payout_destination_not_found",
        destination_id=theirs.pk,
    )
    contract.call("wallet_payout_destination_default_set", client, status=200, destination_id=awaiting.id)
    contract.call("wallet_payout_destination_default_set", contract.anonymous(), status=401, destination_id=awaiting.id)
    contract.call("wallet_payout_destination_remove", client, status=204, destination_id=awaiting.id)
    contract.call("wallet_payout_destination_remove", contract.anonymous(), status=401, destination_id=awaiting.id)
