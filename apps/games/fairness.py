"""Provably fair outcomes: pure functions, no database (verifiers and the simulation use them too).

Each user has a server seed (64 hex characters, secret until rotated) committed to by its SHA-256
hash, a client seed they choose, and a nonce that counts their rounds with that seed pair.

Mapping a round to a prize-table slot (documented in the README, "Games: verifying a round"):

1. digest = HMAC-SHA256(key=server_seed as ASCII, message=f"{client_seed}:{nonce}" as ASCII).
2. Read the 32 bytes as eight big-endian unsigned 32-bit words. With N = the table's total weight
   (1,000,000) and limit = floor(2**32 / N) * N, the first word below `limit` gives roll = word % N.
   Words at or above `limit` are skipped (rejection sampling), so every roll 0..N-1 is exactly
   equally likely: no modulo bias. If all eight are skipped (odds about 1e-29) the next digest is
   HMAC-SHA256(server_seed, f"{client_seed}:{nonce}:{k}") for k = 1, 2, ...
3. The slot is the first, in table order, whose running total of weights exceeds the roll.
4. Payout = floor(bet * multiplier) (multipliers have two decimals: bet * cents // 100).
"""

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from decimal import Decimal

WEIGHT_TOTAL = 1_000_000  # prize-table weights are parts per million and must sum to exactly this
_WORD = 2**32


def server_seed_generate() -> str:
    return secrets.token_hex(32)


def client_seed_generate() -> str:
    return secrets.token_hex(8)


def seed_hash(server_seed: str) -> str:
    """The commitment published before any round: SHA-256 of the server seed's ASCII text, hex."""
    return hashlib.sha256(server_seed.encode()).hexdigest()


def round_digest(*, server_seed: str, client_seed: str, nonce: int, cursor: int = 0) -> bytes:
    message = f"{client_seed}:{nonce}" if cursor == 0 else f"{client_seed}:{nonce}:{cursor}"
    return hmac.new(server_seed.encode(), message.encode(), hashlib.sha256).digest()


def uniform_roll(*, server_seed: str, client_seed: str, nonce: int, n: int = WEIGHT_TOTAL) -> int:
    """A roll in 0..n-1, uniformly distributed (rejection sampling, see the module docstring)."""
    if not 0 < n <= _WORD:
        raise ValueError("n must be in 1..2**32")
    limit = (_WORD // n) * n
    cursor = 0
    while True:
        digest = round_digest(server_seed=server_seed, client_seed=client_seed, nonce=nonce, cursor=cursor)
        for i in range(0, 32, 4):
            word = int.from_bytes(digest[i : i + 4], "big")
            if word < limit:
                return word % n
        cursor += 1


def slot_for_roll(roll: int, weights: Sequence[int]) -> int:
    """Index of the first slot whose running total of weights exceeds the roll."""
    running = 0
    for index, weight in enumerate(weights):
        running += weight
        if roll < running:
            return index
    raise ValueError("roll is not below the total weight")


def multiplier_cents(multiplier: Decimal) -> int:
    cents = multiplier * 100
    if cents != cents.to_integral_value():
        raise ValueError("multipliers have at most two decimals")
    return int(cents)


def payout_for(*, bet: int, multiplier: Decimal) -> int:
    """floor(bet * multiplier), in integers."""
    return bet * multiplier_cents(multiplier) // 100
