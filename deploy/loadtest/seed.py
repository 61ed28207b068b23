#!/usr/bin/env python
"""Seed the load-test database: hosts live, viewers with coins and JWTs, a gift catalogue.

    DATABASE_URL=... REDIS_URL=... python deploy/loadtest/seed.py --viewers 500 --hosts 20 --out seed.json

Everything goes through the app's services (go live, Finance grants, token issue) except the bulk
user rows, which are inserted in one statement with one pre-hashed password.
"""

import argparse
import json
import os
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "halobuzz.settings")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--viewers", type=int, required=True)
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--coins", type=int, default=100_000, help="coins granted to each viewer")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    import django

    django.setup()
    from django.contrib.auth.hashers import make_password
    from django.db import transaction
    from django.utils import timezone

    from apps.accounts.models import User
    from apps.accounts.services import tokens_issue
    from apps.gifts import demo as gifts_demo
    from apps.gifts.models import Gift
    from apps.live.services import stream_go_live
    from apps.wallet.services import coins_grant

    started = time.monotonic()
    password = make_password("loadtest-password-not-secret")
    now = timezone.now()
    adult = {"date_of_birth": date(1995, 5, 5), "age_verification": User.AgeVerification.VERIFIED}
    granter = User.objects.create(username="lt_finance", is_staff=True, is_superuser=True, password=password, **adult)
    hosts = User.objects.bulk_create(
        [  # going live needs a verified phone
            User(username=f"lt_host_{i}", password=password, phone=f"+97798200{i:05d}", phone_verified_at=now, **adult)
            for i in range(args.hosts)
        ]
    )
    viewers = User.objects.bulk_create(
        [User(username=f"lt_viewer_{i}", password=password, **adult) for i in range(args.viewers)]
    )
    streams = [stream_go_live(host=host, title=f"Load test stream {i}").pk for i, host in enumerate(hosts)]
    host_tokens = [tokens_issue(user=host)["access"] for host in hosts]
    for viewer in viewers:
        with transaction.atomic():
            coins_grant(user=viewer, amount=args.coins, reason="load test", granted_by=granter)
    gifts_demo.catalogue_seed(out=lambda line: None)
    gift = Gift.objects.filter(is_active=True, og_only=False).order_by("coin_price").first()
    users = [{"id": v.pk, "token": tokens_issue(user=v)["access"]} for v in viewers]
    Path(args.out).write_text(
        json.dumps(
            {
                "streams": streams,
                "hosts": [{"stream": sid, "token": tok} for sid, tok in zip(streams, host_tokens, strict=True)],
                "gift": gift.pk,
                "gift_coins": gift.coin_price,
                "coins_each": args.coins,
                "users": users,
            }
        )
    )
    print(
        f"seeded {len(viewers)} viewers x {args.coins} coins, {len(streams)} live streams, gift #{gift.pk} "
        f"({gift.coin_price} coins) in {time.monotonic() - started:.1f}s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
