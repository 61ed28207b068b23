"""The outcome function: an independent re-derivation, no modulo bias, table validation, and a
100,000-round simulation whose return to player must sit within statistical bounds of the table's."""

import hashlib
import hmac
from collections import Counter
from decimal import Decimal

import pytest

from apps.games.fairness import WEIGHT_TOTAL, payout_for, seed_hash, slot_for_roll, uniform_roll
from apps.games.registry import COIN_FLIP, SPIN_WHEEL
from apps.games.tables import (
    Slot,
    round_outcome,
    table_errors,
    table_rtp,
    table_rtp_for,
    table_variance_for,
)
from tests.games.factories import COIN, WHEEL

SERVER_SEED = "9f2b" * 16
CLIENT_SEED = "lucky-client"


def slots(rows) -> list[Slot]:
    return [Slot(label, face, Decimal(m), w) for label, face, m, w in rows]


def words(server_seed: str, message: str) -> list[int]:
    digest = hmac.new(server_seed.encode(), message.encode(), hashlib.sha256).digest()
    return [int.from_bytes(digest[i : i + 4], "big") for i in range(0, 32, 4)]


def test_seed_hash_is_sha256_of_the_ascii_seed():
    assert seed_hash("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_roll_is_the_first_hmac_word_below_the_limit_mod_n():
    # given the documented mapping, computed here independently
    limit = (2**32 // WEIGHT_TOTAL) * WEIGHT_TOTAL
    for nonce in range(50):
        expected = next(w % WEIGHT_TOTAL for w in words(SERVER_SEED, f"{CLIENT_SEED}:{nonce}") if w < limit)
        # then
        assert uniform_roll(server_seed=SERVER_SEED, client_seed=CLIENT_SEED, nonce=nonce) == expected


def test_words_at_or_above_the_limit_are_skipped_not_folded():
    # given n = 3 * 2**30: the limit is 3 * 2**30, so a quarter of all words are rejected
    n = 3 * 2**30
    skipped = 0
    for nonce in range(200):
        w = words(SERVER_SEED, f"{CLIENT_SEED}:{nonce}")
        roll = uniform_roll(server_seed=SERVER_SEED, client_seed=CLIENT_SEED, nonce=nonce, n=n)
        first_good = next(x for x in w if x < n)
        assert roll == first_good % n == first_good
        skipped += w[0] >= n
    assert skipped > 20  # the case really happened


def test_when_all_eight_words_are_rejected_the_next_digest_is_used():
    # given n = 2**31 + 1: the limit is 2**31 + 1, so almost half the words are rejected
    n = 2**31 + 1
    for nonce in range(2000):
        if all(x >= n for x in words(SERVER_SEED, f"{CLIENT_SEED}:{nonce}")):
            break
    else:
        pytest.skip("no nonce with eight rejected words in range")
    expected = next(x for x in words(SERVER_SEED, f"{CLIENT_SEED}:{nonce}:1") if x < n)
    assert uniform_roll(server_seed=SERVER_SEED, client_seed=CLIENT_SEED, nonce=nonce, n=n) == expected


def test_slot_boundaries_follow_the_running_total():
    weights = [434_000, 100_000, 466_000]
    assert [slot_for_roll(r, weights) for r in (0, 433_999, 434_000, 533_999, 534_000, 999_999)] == [0, 0, 1, 1, 2, 2]
    with pytest.raises(ValueError):
        slot_for_roll(1_000_000, weights)


def test_payout_is_bet_times_multiplier_rounded_down():
    assert payout_for(bet=15, multiplier=Decimal("1.5")) == 22
    assert payout_for(bet=100, multiplier=Decimal("1.92")) == 192
    assert payout_for(bet=7, multiplier=Decimal("0")) == 0


def test_table_rtp_is_exact():
    assert table_rtp(SPIN_WHEEL, slots(WHEEL)) == Decimal("0.95")
    assert table_rtp(COIN_FLIP, slots(COIN)) == Decimal("0.96")
    assert table_rtp_for(COIN_FLIP, slots(COIN), "heads") == Decimal("0.96")


@pytest.mark.parametrize(
    ("rows", "game_type", "message"),
    [
        ([("a", "", "1", 500_000), ("b", "", "0", 499_999)], SPIN_WHEEL, "must sum to exactly 1,000,000"),
        ([("a", "", "1", 500_000), ("b", "", "0", 500_001)], SPIN_WHEEL, "must sum to exactly 1,000,000"),
        ([("a", "", "0.98", 1_000_000)], SPIN_WHEEL, "over the cap"),
        ([("a", "", "1.005", 1_000_000)], SPIN_WHEEL, "two decimals"),
        ([("a", "", "-1", 1_000_000)], SPIN_WHEEL, "between 0 and"),
        ([("h", "heads", "1.9", 500_000), ("e", "edge", "0", 500_000)], COIN_FLIP, "face 'edge'"),
        ([("h", "heads", "1.9", 1_000_000)], COIN_FLIP, "No slot can be drawn for the pick 'tails'"),
        ([("a", "heads", "0.5", 1_000_000)], SPIN_WHEEL, "face 'heads'"),
        ([], SPIN_WHEEL, "at least one slot"),
    ],
)
def test_invalid_tables_are_refused(rows, game_type, message):
    errors = table_errors(game_type, slots(rows), Decimal("0.97"))
    assert any(message in e for e in errors), errors


def test_a_table_exactly_at_the_cap_is_allowed():
    assert table_errors(SPIN_WHEEL, slots([("a", "", "0.97", 1_000_000)]), Decimal("0.97")) == []
    assert table_errors(SPIN_WHEEL, slots(WHEEL), Decimal("0.97")) == []
    assert table_errors(COIN_FLIP, slots(COIN), Decimal("0.97")) == []


@pytest.mark.parametrize(("game_type", "rows", "choice"), [(SPIN_WHEEL, WHEEL, ""), (COIN_FLIP, COIN, "tails")])
def test_simulated_rtp_of_100000_rounds_is_within_statistical_bounds(game_type, rows, choice):
    # given the table's exact mean and variance of the multiplier paid per round
    table = slots(rows)
    mean = table_rtp_for(game_type, table, choice)
    sd = table_variance_for(game_type, table, choice).sqrt()
    n = 100_000
    # when 100,000 rounds are drawn by the real outcome function (one seed pair, nonces 0..n-1)
    paid = Decimal(0)
    counts: Counter[int] = Counter()
    for nonce in range(n):
        outcome = round_outcome(
            game_type=game_type,
            slots=table,
            server_seed=SERVER_SEED,
            client_seed=CLIENT_SEED,
            nonce=nonce,
            choice=choice,
        )
        paid += outcome.multiplier
        counts[outcome.slot_index] += 1
    realised = paid / n
    # then the realised RTP is within 4 standard errors of the table's (a fair draw fails ~1 in 16,000)
    bound = 4 * sd / Decimal(n).sqrt()
    assert abs(realised - mean) <= bound, (realised, mean, bound)
    # and every slot comes up as often as its probability says (4 standard errors, binomial)
    for index, slot in enumerate(table):
        p = Decimal(slot.weight) / WEIGHT_TOTAL
        slot_bound = 4 * (n * p * (1 - p)).sqrt()
        assert abs(counts[index] - n * p) <= slot_bound, (slot.label, counts[index], n * p)
