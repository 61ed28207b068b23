from datetime import date
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models.functions import Coalesce, Lower
from django.utils import timezone

from apps.core.search import search_text as search_key


def age_on(date_of_birth: date, today: date) -> int:
    """Whole years from date_of_birth to today (a 29 February birthday counts from 1 March)."""
    return today.year - date_of_birth.year - ((today.month, today.day) < (date_of_birth.month, date_of_birth.day))


def adult_born_by(*, today: date) -> date:
    """The latest date of birth that is of age (settings.ADULT_AGE) today: `age_on(dob, today) >= ADULT_AGE`
    exactly when `dob <= adult_born_by(today)`. The one test of age: `User.is_adult` and the gift
    send's SQL both compare against it."""
    year = today.year - settings.ADULT_AGE
    try:
        return today.replace(year=year)
    except ValueError:  # 29 February in a year without one: 28 February is the last birthday that counts
        return date(year, 2, 28)


class User(AbstractUser):
    class AgeVerification(models.TextChoices):
        UNVERIFIED = "unverified", "Not verified"
        VERIFIED = "verified", "Verified adult"
        PENDING_REVIEW = "pending_review", "Likely minor: waiting for a moderator"
        REJECTED = "rejected", "Rejected by a moderator"

    # username, password, first/last name, is_staff, is_active, date_joined come from AbstractUser.
    email = models.EmailField(blank=True, null=True, unique=True)  # type: ignore[assignment]  # nullable here
    phone = models.CharField(max_length=20, blank=True, null=True, unique=True, help_text="E.164, e.g. +97798XXXXXXXX")
    display_name = models.CharField(max_length=50, blank=True)
    avatar = models.ImageField(upload_to="avatars/%Y/%m/", blank=True)
    bio = models.CharField(max_length=300, blank=True)
    date_of_birth = models.DateField(null=True, blank=True)
    country = models.CharField(max_length=2, default="NP", help_text="ISO 3166-1 alpha-2")
    banned_until = models.DateTimeField(null=True, blank=True, db_index=True)
    ban_reason = models.CharField(max_length=300, blank=True)
    age_verification = models.CharField(
        max_length=20, choices=AgeVerification.choices, default=AgeVerification.UNVERIFIED
    )
    # The language of what the user reads; "" follows each request's Accept-Language.
    language = models.CharField(max_length=8, choices=settings.LANGUAGES, blank=True, default="")
    # Bumped by a password change, a ban or logout-everywhere: tokens carry the generation they were
    # issued in (apps.accounts.tokens) and older ones are refused. Mirrored in Redis for the hot check.
    token_generation = models.PositiveIntegerField(default=0, editable=False)
    # When the phone (by an SMS code) and the email (by a link) were last proven to be the user's;
    # None: unverified. Changing either clears it until the new one is proven.
    phone_verified_at = models.DateTimeField(null=True, blank=True)
    email_verified_at = models.DateTimeField(null=True, blank=True)
    # Set while the user's own deletion request waits out its grace period (apps.privacy): the
    # account is deactivated and hidden, and signing in with the right password offers the undo.
    deletion_due_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The romanised search key of the username and display name (apps.core.search), kept in step by save().
    search_text = models.TextField(blank=True, default="", editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("username"), name="accounts_user_username_ci_uniq"),
            # Logins look emails up case-insensitively: two accounts must not differ only by case.
            models.UniqueConstraint(Lower("email"), name="accounts_user_email_ci_uniq"),
        ]
        indexes = [
            # The few hidden from search (apps.accounts.search.hidden_user_ids), read on the index alone.
            models.Index(
                fields=["id"],
                include=["is_active", "banned_until"],
                condition=models.Q(is_active=False) | models.Q(banned_until__isnull=False),
                name="user_hidden_idx",
            ),
            # A common name's users, most recently signed in first (apps.accounts.search.user_search).
            models.Index(
                Coalesce("last_login", "date_joined").desc(),
                models.F("id").desc(),
                condition=models.Q(is_active=True),
                name="user_search_recent_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.username

    SEARCH_SOURCE_FIELDS = frozenset({"username", "display_name"})

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Every path that renames (services, the admin, create_user) keeps the search key in step.
        update_fields = kwargs.get("update_fields")
        if update_fields is None or self.SEARCH_SOURCE_FIELDS & set(update_fields):
            self.search_text = search_key(self.username, self.display_name)
            if update_fields is not None:
                kwargs["update_fields"] = {*update_fields, "search_text"}
        super().save(*args, **kwargs)

    @property
    def name(self) -> str:
        return self.display_name or self.username

    @property
    def age(self) -> int | None:
        if self.date_of_birth is None:
            return None
        return age_on(self.date_of_birth, timezone.localdate())

    @property
    def is_adult(self) -> bool:
        """Old enough by date of birth (unknown counts as not adult) and not held back by an age check."""
        return (
            self.date_of_birth is not None
            and self.date_of_birth <= adult_born_by(today=timezone.localdate())
            and self.age_verification not in (self.AgeVerification.PENDING_REVIEW, self.AgeVerification.REJECTED)
        )

    @property
    def is_contact_verified(self) -> bool:
        """A phone or an email has been proven: the account is no longer a free throwaway."""
        return self.phone_verified_at is not None or self.email_verified_at is not None

    @property
    def is_banned(self) -> bool:
        return self.banned_until is not None and self.banned_until > timezone.now()


class Follow(models.Model):
    follower = models.ForeignKey(User, on_delete=models.CASCADE, related_name="following_links")
    followee = models.ForeignKey(User, on_delete=models.CASCADE, related_name="follower_links")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["follower", "followee"], name="follow_pair_uniq"),
            models.CheckConstraint(condition=~models.Q(follower=models.F("followee")), name="follow_not_self"),
        ]
        indexes = [models.Index(fields=["followee", "-created_at"], name="follow_followee_idx")]

    def __str__(self) -> str:
        return f"{self.follower_id} follows {self.followee_id}"


class Block(models.Model):
    blocker = models.ForeignKey(User, on_delete=models.CASCADE, related_name="blocks_made")
    blocked = models.ForeignKey(User, on_delete=models.CASCADE, related_name="blocks_received")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["blocker", "blocked"], name="block_pair_uniq"),
            models.CheckConstraint(condition=~models.Q(blocker=models.F("blocked")), name="block_not_self"),
        ]
        indexes = [models.Index(fields=["blocked"], name="block_blocked_idx")]

    def __str__(self) -> str:
        return f"{self.blocker_id} blocks {self.blocked_id}"


class VerificationCode(models.Model):
    """A one-time secret sent to a phone (6 digits by SMS) or an email (a link's token).

    Only an HMAC of the secret is stored (apps.accounts.verification), never the secret. A code is
    good once, until `expires_at`, for VERIFICATION_MAX_ATTEMPTS wrong guesses; sending a new one for
    the same destination and purpose retires the old. The halves of a contact change (old and new
    destination) share a `change_group` and apply together once both are confirmed.
    """

    class Purpose(models.TextChoices):
        SIGNUP = "signup", "Sign-up by phone"
        PASSWORD_RESET = "password_reset", "Password reset"
        VERIFY = "verify", "Verify the current phone or email"
        CHANGE_OLD = "change_old", "Contact change: confirm on the old one"
        CHANGE_NEW = "change_new", "Contact change: confirm on the new one"

    class Channel(models.TextChoices):
        SMS = "sms", "SMS"
        EMAIL = "email", "Email"

    user = models.ForeignKey(User, null=True, blank=True, on_delete=models.CASCADE, related_name="verification_codes")
    purpose = models.CharField(max_length=20, choices=Purpose.choices)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    destination = models.CharField(max_length=254, help_text="E.164 phone or email address")
    secret_hash = models.CharField(max_length=64)
    change_group = models.UUIDField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["channel", "destination", "purpose", "-created_at"], name="verif_code_dest_idx"),
            models.Index(fields=["secret_hash"], name="verif_code_hash_idx"),
            models.Index(fields=["change_group"], name="verif_code_group_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.purpose} by {self.channel} #{self.pk}"


class FaceDescriptor(models.Model):
    """The face on the user's age-check selfie as dlib's 128-d descriptor, kept instead of the selfie.

    The KYC face match compares it with the face on the host's ID photo (apps.accounts.faces). It is
    biometric data: nothing else reads it, and it goes when the account is anonymised.
    """

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="face_descriptor")
    descriptor = models.JSONField(help_text="128 floats")
    model_version = models.CharField(max_length=120)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"face descriptor of user #{self.user_id}"
