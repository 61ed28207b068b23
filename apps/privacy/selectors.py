"""Reads for account deletion and the user's data export."""

import io
import json
import zipfile
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from apps.accounts.models import User
from apps.accounts.selectors import block_list, follower_list, following_list, user_face_descriptor_get
from apps.core.timestamps import iso_utc
from apps.gifts.selectors import gift_sends_received, gift_sends_sent
from apps.moderation.selectors import enforcement_list
from apps.payments.selectors import payment_list
from apps.privacy.exceptions import DataExportNotFound
from apps.privacy.models import AccountDeletion, DataExport
from apps.reels.selectors import reel_list_mine
from apps.wallet.selectors import cashout_list, posting_history

EXPORT_FORMAT_VERSION = 1


def account_deletion_list(*, user: User) -> QuerySet[AccountDeletion]:
    return AccountDeletion.objects.filter(user=user).order_by("-requested_at")


def _profile(user: User) -> dict[str, Any]:
    return {
        "id": user.pk,
        "username": user.username,
        "display_name": user.display_name,
        "email": user.email,
        "phone": user.phone,
        "bio": user.bio,
        "avatar": user.avatar.url if user.avatar else None,
        "date_of_birth": user.date_of_birth.isoformat() if user.date_of_birth else None,
        "country": user.country,
        "language": user.language,
        "age_verification": user.age_verification,
        "date_joined": iso_utc(user.date_joined),
        "last_login": iso_utc(user.last_login),
    }


def _face_descriptor(user: User) -> dict[str, Any] | None:
    """The numbers kept from the face on the user's age-check selfie, compared with the face on their
    KYC ID photo: biometric data, theirs to see."""
    face = user_face_descriptor_get(user_id=user.pk)
    if face is None:
        return None
    return {
        "kept_since": iso_utc(face.created_at),
        "model_version": face.model_version,
        "descriptor": list(face.descriptor),
    }


def account_export(*, user: User) -> dict[str, Any]:
    """Everything the user's own account holds, as JSON-ready data. Other people appear only by
    their public username (followers, gift partners): never their email, phone or private data.
    Blocks others made of this user are theirs, not this user's, and are left out."""
    return {
        "format_version": EXPORT_FORMAT_VERSION,
        "exported_at": iso_utc(timezone.now()),
        "profile": _profile(user),
        "following": [
            {"username": link.followee.username, "since": iso_utc(link.created_at)}
            for link in following_list(user=user)
        ],
        "followers": [
            {"username": link.follower.username, "since": iso_utc(link.created_at)} for link in follower_list(user=user)
        ],
        "blocked": [
            {"username": block.blocked.username, "since": iso_utc(block.created_at)} for block in block_list(user=user)
        ],
        "gifts_sent": [
            {
                "at": iso_utc(send.created_at),
                "gift": send.gift.name,
                "quantity": send.quantity,
                "coins": send.coins,
                "to": send.host.username,
                "stream_id": send.stream_id,
            }
            for send in gift_sends_sent(user=user)
        ],
        "gifts_received": [
            {
                "at": iso_utc(send.created_at),
                "gift": send.gift.name,
                "quantity": send.quantity,
                "coins": send.coins,
                "host_share": send.host_share,
                "from": send.sender.username,
                "stream_id": send.stream_id,
            }
            for send in gift_sends_received(user=user)
        ],
        "coin_statement": [
            {
                "at": iso_utc(posting.entry.created_at),
                "account": posting.account.kind,
                "amount": posting.amount,
                "kind": posting.entry.kind,
                "ref": posting.entry.ref,
            }
            for posting in posting_history(user=user).order_by("id")
        ],
        "payments": [
            {
                "at": iso_utc(payment.created_at),
                "gateway": payment.gateway,
                "package": payment.package_name,
                "coins": payment.coins,
                "bonus_coins": payment.bonus_coins,
                "amount_paisa": payment.amount_paisa,
                "status": payment.status,
                "merchant_ref": payment.merchant_ref,
            }
            for payment in payment_list(user=user).order_by("created_at", "id")
        ],
        "cashouts": [
            {
                "at": iso_utc(cashout.created_at),
                "coins": cashout.coins,
                "amount_paisa": cashout.amount_paisa,
                "status": cashout.status,
                "reviewed_at": iso_utc(cashout.reviewed_at),
            }
            for cashout in cashout_list(host=user)
        ],
        "reels": [
            {
                "id": reel.pk,
                "caption": reel.caption,
                "status": reel.status,
                "created_at": iso_utc(reel.created_at),
                "published_at": iso_utc(reel.published_at),
                "views": reel.views_count,
                "likes": reel.likes_count,
                "comments": reel.comments_count,
                "shares": reel.shares_count,
            }
            for reel in reel_list_mine(user=user).order_by("created_at", "id")
        ],
        "moderation_decisions": [
            {
                "at": iso_utc(enforcement.created_at),
                "kind": enforcement.kind,
                "rule": enforcement.rule,
                "explanation": enforcement.explanation,
            }
            for enforcement in enforcement_list(user=user).order_by("created_at", "id")
        ],
        "face_descriptor": _face_descriptor(user),
        "account_deletions": [
            {
                "status": deletion.status,
                "requested_at": iso_utc(deletion.requested_at),
                "due_at": iso_utc(deletion.due_at),
                "cancelled_at": iso_utc(deletion.cancelled_at),
            }
            for deletion in account_deletion_list(user=user)
        ],
    }


def account_export_zip(*, user: User) -> bytes:
    """`account_export` as a zip: one JSON file per area (profile.json, following.json, ...) and
    export.json saying which format and when."""
    data = account_export(user=user)
    meta = {"format_version": data.pop("format_version"), "exported_at": data.pop("exported_at"), "files": []}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for area, rows in data.items():
            archive.writestr(f"{area}.json", json.dumps(rows, ensure_ascii=False, indent=2))
            meta["files"].append(f"{area}.json")
        archive.writestr("export.json", json.dumps(meta, indent=2))
    return buffer.getvalue()


def data_export_of(*, user: User, export_id: int) -> DataExport:
    """The user's own export (another user's is as good as missing)."""
    export = DataExport.objects.filter(pk=export_id, user=user).first()
    if export is None:
        raise DataExportNotFound(details={"export_id": export_id})
    return export
