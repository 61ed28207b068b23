from collections.abc import Callable
from typing import cast

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import Count, Exists, OuterRef, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from rest_framework import serializers

from apps.accounts.models import User
from apps.core.admin import ReadOnlyAdminMixin
from apps.core.exceptions import DomainError
from apps.wallet import selectors, services
from apps.wallet.models import (
    Account,
    CashoutHold,
    CashoutRequest,
    CoinGrant,
    JournalEntry,
    KycSubmission,
    PayoutBatch,
    PayoutDestination,
    PayoutLine,
    Posting,
    SpendingControls,
)


@admin.register(Account)
class AccountAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "kind", "owner", "balance", "history")
    list_filter = ("kind",)
    search_fields = ("owner__username", "owner__email", "owner__phone")
    list_select_related = ("owner",)

    @admin.display(description="history")
    def history(self, obj: Account) -> str:
        url = reverse("admin:wallet_posting_changelist") + f"?account__id__exact={obj.pk}"
        return format_html('<a href="{}">postings</a>', url)


class PostingInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Posting
    fields = ("account", "amount", "applied")
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(JournalEntry)
class JournalEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "kind", "ref", "memo", "created_by", "created_at")
    list_filter = ("kind",)
    search_fields = ("ref", "memo", "created_by__username")
    list_select_related = ("created_by",)
    date_hierarchy = "created_at"
    inlines = [PostingInline]


@admin.register(Posting)
class PostingAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "entry", "account", "amount", "applied")
    list_filter = ("account__kind", "entry__kind", "applied")
    search_fields = ("account__owner__username", "entry__ref")
    list_select_related = ("entry", "account", "account__owner")


class CoinGrantForm(forms.ModelForm):
    class Meta:
        model = CoinGrant
        fields = ("user", "amount", "reason")

    granted_by_id: int | None = None  # set by CoinGrantAdmin.get_form

    def clean_user(self):
        user = self.cleaned_data["user"]
        if user is not None and user.pk == self.granted_by_id:
            raise forms.ValidationError("Nobody grants coins to themselves: ask another Finance member.")
        return user

    def clean_amount(self) -> int:
        amount = self.cleaned_data["amount"]
        if amount <= 0:
            raise forms.ValidationError("Grant a positive number of coins.")
        return amount


@admin.register(CoinGrant)
class CoinGrantAdmin(admin.ModelAdmin):
    """Finance grants coins here; each grant is a ledger entry from the issuance account."""

    form = CoinGrantForm
    list_display = ("id", "user", "amount", "reason", "granted_by", "created_at")
    list_select_related = ("user", "granted_by")
    search_fields = ("user__username", "reason")
    raw_id_fields = ("user",)

    def has_change_permission(self, request, obj=None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (form,), {"granted_by_id": request.user.pk})

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj: CoinGrant, form, change: bool) -> None:
        grant = services.coins_grant(user=obj.user, amount=obj.amount, reason=obj.reason, granted_by=request.user)
        obj.pk = grant.pk  # so the admin's redirect and message point at the recorded grant


@admin.register(CashoutRequest)
class CashoutRequestAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "host",
        "coins",
        "amount_npr",
        "status",
        "hold",
        "created_at",
        "reviewed_by",
        "reviewed_at",
    )
    list_filter = ("status",)
    search_fields = ("host__username",)
    list_select_related = ("host", "reviewed_by")
    # No "approve" here: money leaves only through a payout batch (Payout batches), which applies the
    # hold period, the destination and KYC checks and records the provider's reference.
    actions = ("reject",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[CashoutRequest]:
        active = CashoutHold.objects.filter(host_id=OuterRef("host_id"), released_at__isnull=True)
        return super().get_queryset(request).annotate(host_held=Exists(active))

    @admin.display(description="hold")
    def hold(self, obj: CashoutRequest) -> str:
        if obj.status != CashoutRequest.Status.REQUESTED or not getattr(obj, "host_held", False):
            return ""
        url = reverse("admin:wallet_cashouthold_changelist") + f"?host__id__exact={obj.host_id}&active=yes"
        return format_html('<a href="{}">held for review</a>', url)

    @admin.display(description="NPR")
    def amount_npr(self, obj: CashoutRequest) -> str:
        return f"{obj.amount_paisa // 100}.{obj.amount_paisa % 100:02d}"

    def has_change_permission(self, request, obj=None) -> bool:
        # Review happens through the actions, which need the change permission.
        return request.user.has_perm("wallet.change_cashoutrequest")

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    @admin.action(description="Reject (return the earnings)", permissions=["change"])
    def reject(self, request, queryset):
        done = 0
        for cashout in queryset:
            try:
                services.cashout_reject(request_id=cashout.pk, reviewer=request.user, note="Rejected in admin")
                done += 1
            except DomainError as exc:
                self.message_user(request, f"#{cashout.pk}: {exc.message}", messages.WARNING)
        self.message_user(request, f"Rejected {done} cash-out(s).", messages.SUCCESS)


class ActiveHoldFilter(admin.SimpleListFilter):
    title = "active"
    parameter_name = "active"

    def lookups(self, request, model_admin):
        return (("yes", "Active"), ("no", "Released"))

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(released_at__isnull=self.value() == "yes")
        return queryset


@admin.register(CashoutHold)
class CashoutHoldAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Why hosts' cash-outs wait. Placed and released by the services that own the reason (fraud cases)."""

    list_display = ("id", "host", "reason", "source", "ref", "created_at", "released_at", "released_by")
    list_filter = (ActiveHoldFilter, "source")
    search_fields = ("host__username", "reason", "ref")
    list_select_related = ("host", "released_by")


@admin.register(SpendingControls)
class SpendingControlsAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: the user sets their own controls (a raise waits for the cool-off, which staff cannot skip)."""

    list_display = ("user", "daily_limit", "monthly_limit", "paused", "spent_day", "spent_month", "updated_at")
    list_filter = ("paused",)
    search_fields = ("user__username", "user__email", "user__phone")
    list_select_related = ("user",)


def _per_row_text(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    queryset: QuerySet,
    *,
    title: str,
    explanation: str,
    field_label: str,
    submit_label: str,
    apply: Callable[[int, str], object],
    done: str,
) -> HttpResponse | None:
    """An action that asks one text per selected row (a reference, a reason), then applies it row by row
    through a service. The first POST shows the form; the second (with "apply") acts."""
    rows = list(queryset.order_by("pk"))
    if "apply" not in request.POST:
        context = {
            **modeladmin.admin_site.each_context(request),
            "title": title,
            "opts": modeladmin.model._meta,
            "explanation": explanation,
            "object_heading": modeladmin.model._meta.verbose_name,
            "field_label": field_label,
            "submit_label": submit_label,
            "max_length": 100,
            "rows": [{"pk": row.pk, "label": str(row), "value": ""} for row in rows],
            "action": request.POST.get("action", ""),
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/wallet/per_row_text.html", context)
    count = 0
    for row in rows:
        value = request.POST.get(f"value_{row.pk}", "").strip()
        if not value:
            modeladmin.message_user(request, f"{row}: {field_label} is required; left as it was.", messages.WARNING)
            continue
        try:
            apply(row.pk, value)
        except DomainError as exc:
            modeladmin.message_user(request, f"{row}: {exc.message}", messages.ERROR)
            continue
        except serializers.ValidationError as exc:
            modeladmin.message_user(request, f"{row}: {exc.detail}", messages.ERROR)
            continue
        count += 1
    modeladmin.message_user(request, f"{done}: {count}.", messages.SUCCESS)
    return None


@admin.register(KycSubmission)
class KycSubmissionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Finance compares the ID photo with the selfie and the details with the account, then decides.

    The images are private: each page view makes links signed for a short time. Decided rows are
    never edited (a rejected host submits again), so the list is the audit trail.
    """

    list_display = (
        "id",
        "user",
        "legal_name",
        "document_type",
        "face_match",
        "status",
        "created_at",
        "reviewed_by",
        "reviewed_at",
    )
    list_filter = ("status", "face_match", "document_type")
    search_fields = ("user__username", "legal_name", "document_number")
    list_select_related = ("user", "reviewed_by")
    fields = (
        "user",
        "account_details",
        "legal_name",
        "document_type",
        "document_number",
        "date_of_birth",
        "documents",
        "face_check",
        "status",
        "reviewed_by",
        "review_note",
        "created_at",
        "reviewed_at",
    )
    actions = ("approve", "approve_with_note", "reject", "compare_faces")

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_change_permission(self, request, obj=None) -> bool:
        return request.user.has_perm("wallet.change_kycsubmission")

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.has_perm("wallet.view_kycsubmission") or self.has_change_permission(request, obj)

    @admin.display(description="account")
    def account_details(self, obj: KycSubmission) -> str:
        user = obj.user
        return format_html(
            "date of birth on the account: {} · age verification: {} · joined {}",
            user.date_of_birth or "—",
            user.get_age_verification_display(),
            timezone.localtime(user.date_joined).date(),
        )

    @admin.display(description="ID photo and selfie")
    def documents(self, obj: KycSubmission) -> str:
        return format_html(
            '<div style="display:flex;gap:16px">'
            '<figure><img src="{}" alt="ID photo" style="{}"><figcaption>ID</figcaption></figure>'
            '<figure><img src="{}" alt="selfie" style="{}"><figcaption>selfie</figcaption></figure>'
            "</div>",
            obj.id_image.url,
            "max-width:420px;max-height:420px",
            obj.selfie.url,
            "max-width:420px;max-height:420px",
        )

    @admin.display(description="face check (ID photo against the age-check selfie)")
    def face_check(self, obj: KycSubmission) -> str:
        if obj.face_checked_at is None:
            return format_html("{}", obj.get_face_match_display())
        distance = "—" if obj.face_distance is None else f"{obj.face_distance:.3f}"
        return format_html(
            "<strong>{}</strong> · distance {} (same person below {}) · {} · compared {}",
            obj.get_face_match_display(),
            distance,
            settings.KYC_FACE_MATCH_THRESHOLD,
            obj.face_model_version or "no model run",
            timezone.localtime(obj.face_checked_at).strftime("%Y-%m-%d %H:%M"),
        )

    @admin.action(description="Compare the faces again (waiting checks)", permissions=["change"])
    def compare_faces(self, request, queryset):
        compared = 0
        for submission_id in queryset.filter(status=KycSubmission.Status.PENDING).values_list("pk", flat=True):
            submission = services.kyc_face_match(submission_id=submission_id)
            compared += 1
            self.message_user(request, f"#{submission_id}: {submission.get_face_match_display()}", messages.INFO)
        self.message_user(request, f"Compared {compared} identity check(s).", messages.SUCCESS)

    @admin.action(description="Approve the identity check", permissions=["change"])
    def approve(self, request, queryset):
        done = 0
        for submission_id in queryset.values_list("pk", flat=True):
            try:
                services.kyc_decide(submission_id=submission_id, reviewer=cast(User, request.user), approve=True)
                done += 1
            except DomainError as exc:
                self.message_user(request, f"#{submission_id}: {exc.message}", messages.WARNING)
            except serializers.ValidationError:  # the face match did not back it: an approval needs a reason
                self.message_user(
                    request,
                    f"#{submission_id}: not approved, the face check did not find the same person; if you are "
                    "sure, use “Approve despite the face check” and say why.",
                    messages.WARNING,
                )
        self.message_user(request, f"Approved {done} identity check(s).", messages.SUCCESS)

    @admin.action(description="Approve despite the face check (with a reason, kept on record)…", permissions=["change"])
    def approve_with_note(self, request, queryset):
        reviewer = cast(User, request.user)
        return _per_row_text(
            self,
            request,
            queryset,
            title="Approve identity checks the face match did not back",
            explanation="Say what you checked: the reason stays on the submission with your name.",
            field_label="reason",
            submit_label="Approve",
            apply=lambda pk, note: services.kyc_decide(submission_id=pk, reviewer=reviewer, approve=True, note=note),
            done="Approved identity checks",
        )

    @admin.action(description="Reject the identity check (with a reason for the host)…", permissions=["change"])
    def reject(self, request, queryset):
        reviewer = cast(User, request.user)
        return _per_row_text(
            self,
            request,
            queryset,
            title="Reject identity checks",
            explanation="The host sees the reason and may submit again.",
            field_label="reason",
            submit_label="Reject",
            apply=lambda pk, note: services.kyc_decide(submission_id=pk, reviewer=reviewer, approve=False, note=note),
            done="Rejected identity checks",
        )


@admin.register(PayoutDestination)
class PayoutDestinationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: hosts add destinations; the confirmation credit's payout line moves their status."""

    list_display = ("id", "host", "rail", "account_id", "account_name", "bank_code", "branch_code", "status")
    list_filter = ("rail", "status")
    search_fields = ("host__username", "account_id", "account_name")
    list_select_related = ("host",)
    exclude = ("verify_code",)


class PayoutLineInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = PayoutLine
    fields = ("id", "kind", "destination", "cashout", "amount_paisa", "remark", "status", "provider_ref")
    readonly_fields = fields
    extra = 0
    can_delete = False


class PayoutBatchForm(forms.ModelForm):
    class Meta:
        model = PayoutBatch
        fields = ("rail",)


@admin.register(PayoutBatch)
class PayoutBatchAdmin(admin.ModelAdmin):
    """Add a batch for a rail to gather what is due on it; download its file for the provider; then mark
    each line paid (with the provider's reference) or failed under Payout lines."""

    form = PayoutBatchForm
    list_display = ("id", "rail", "status", "line_count", "created_by", "created_at", "exported_at", "closed_at")
    list_filter = ("rail", "status")
    list_select_related = ("created_by",)
    inlines = [PayoutLineInline]
    actions = ("download_file",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[PayoutBatch]:
        return super().get_queryset(request).annotate(lines_total=Count("lines"))

    @admin.display(description="lines")
    def line_count(self, obj: PayoutBatch) -> int:
        return getattr(obj, "lines_total", 0)

    def get_inlines(self, request, obj=None):
        return [] if obj is None else self.inlines  # the lines exist once the batch is built

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else ("rail", "status", "created_by", "created_at", "exported_at", "closed_at")

    def has_change_permission(self, request, obj=None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj: PayoutBatch, form, change: bool) -> None:
        batch = services.payout_batch_create(rail=obj.rail, created_by=cast(User, request.user))
        if batch is None:
            # Nothing was due: keep nothing, say so, and send Finance back to the list.
            self.message_user(request, "Nothing is due on this rail yet.", messages.WARNING)
            obj.pk = None
            return
        obj.pk = batch.pk

    def response_add(self, request, obj, post_url_continue=None):
        if obj.pk is None:
            return self.response_post_save_add(request, obj)
        return super().response_add(request, obj, post_url_continue)

    def has_export_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("wallet.view_payoutbatch")

    @admin.action(description="Download the batch file (CSV) for the provider", permissions=["export"])
    def download_file(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select one batch to download its file.", messages.WARNING)
            return None
        batch = queryset.get()
        try:
            services.payout_batch_exported(batch_id=batch.pk, by=cast(User, request.user))
        except DomainError as exc:
            self.message_user(request, str(exc.message), messages.ERROR)
            return None
        response = HttpResponse(selectors.payout_batch_file(batch=batch), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="halobuzz-payouts-{batch.rail}-{batch.pk}.csv"'
        return response


@admin.register(PayoutLine)
class PayoutLineAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "batch", "kind", "destination", "cashout", "amount_paisa", "status", "provider_ref")
    list_filter = ("status", "kind", "batch__rail")
    search_fields = ("provider_ref", "destination__host__username", "remark")
    list_select_related = ("batch", "destination", "cashout")
    actions = ("mark_paid", "mark_failed")

    def has_change_permission(self, request, obj=None) -> bool:
        return request.user.has_perm("wallet.change_payoutline")

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    @admin.action(description="Mark paid (with the provider's reference)…", permissions=["change"])
    def mark_paid(self, request, queryset):
        by = cast(User, request.user)
        return _per_row_text(
            self,
            request,
            queryset,
            title="Mark payout lines paid",
            explanation="Type the provider's reference for each line it paid.",
            field_label="provider reference",
            submit_label="Mark paid",
            apply=lambda pk, ref: services.payout_line_mark_paid(line_id=pk, provider_ref=ref, by=by),
            done="Marked paid",
        )

    @admin.action(description="Mark failed (the earnings go back to the host)…", permissions=["change"])
    def mark_failed(self, request, queryset):
        by = cast(User, request.user)
        return _per_row_text(
            self,
            request,
            queryset,
            title="Mark payout lines failed",
            explanation=(
                "Say why the provider refused each line. A cash-out's earnings, tax included, go back to the host."
            ),
            field_label="reason",
            submit_label="Mark failed",
            apply=lambda pk, reason: services.payout_line_mark_failed(line_id=pk, reason=reason, by=by),
            done="Marked failed",
        )
