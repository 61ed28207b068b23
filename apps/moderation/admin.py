"""The moderator's back office: one queue (flagged frames, age reviews, reports, appeals) with
one-click actions, a dashboard, the evidence records and the append-only audit log."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from apps.core.admin import ReadOnlyAdminMixin
from apps.core.exceptions import DomainError
from apps.moderation import selectors, services
from apps.moderation.models import (
    AgeCheck,
    Appeal,
    BannedWord,
    Case,
    Enforcement,
    Frame,
    HeldMessage,
    HostBannedWord,
    ModerationAction,
    ModerationSettings,
    Report,
)

EVIDENCE_FIELDS = {"frame": ("frame", "image"), "selfie": ("age_check", "selfie"), "id": ("age_check", "id_document")}


@admin.register(Case)
class CaseAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "kind",
        "thumbnail",
        "score_display",
        "subject_link",
        "stream_link",
        "reporter_count",
        "summary",
        "created_at",
        "status",
        "decision",
    ]
    list_display_links = ["id", "kind"]
    list_filter = ["status", "kind", "target_type"]
    search_fields = ["subject__username", "summary", "target_id"]
    list_select_related = ["subject", "stream", "frame", "age_check"]
    ordering = ["-score", "created_at"]
    change_form_template = "admin/moderation/case/change_form.html"
    change_list_template = "admin/moderation/case/change_list.html"
    actions = ["dismiss_selected"]
    readonly_fields = [
        "kind",
        "status",
        "target_type",
        "target_id",
        "subject",
        "stream",
        "score",
        "model_version",
        "summary",
        "reporter_count",
        "created_at",
        "decided_at",
        "decided_by",
        "decision",
    ]
    fields = tuple(readonly_fields)

    def get_urls(self):
        return [
            path("dashboard/", self.admin_site.admin_view(self.dashboard_view), name="moderation_case_dashboard"),
            path("<id:case_id>/act/", self.admin_site.admin_view(self.act_view), name="moderation_case_act"),
            path(
                "<id:case_id>/evidence/<str:which>/",
                self.admin_site.admin_view(self.evidence_view),
                name="moderation_case_evidence",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        # The queue opens on what is still to do.
        if not request.GET and request.method == "GET":
            return HttpResponseRedirect(f"{request.path}?status__exact=open")
        extra_context = {**(extra_context or {}), "can_act": selectors.user_is_moderator(request.user)}
        return super().changelist_view(request, extra_context=extra_context)

    # --- columns --------------------------------------------------------------------------------

    @admin.display(description="Evidence")
    def thumbnail(self, obj: Case) -> str:
        which = "frame" if obj.frame_id else ("selfie" if obj.age_check and obj.age_check.selfie else None)
        if which is None:
            return "—"
        url = reverse("admin:moderation_case_evidence", args=[obj.pk, which])
        return format_html('<img src="{}" style="max-height:72px;max-width:120px;border-radius:4px">', url)

    @admin.display(description="Score", ordering="score")
    def score_display(self, obj: Case) -> str:
        if obj.score is None:
            return "—"
        colour = "#b00020" if obj.score >= 0.85 else ("#b26a00" if obj.score >= 0.4 else "#333")
        return format_html('<b style="color:{}">{}</b>', colour, f"{obj.score:.3f}")

    @admin.display(description="User", ordering="subject__username")
    def subject_link(self, obj: Case) -> str:
        if obj.subject is None:
            return "—"
        url = reverse("admin:accounts_user_change", args=[obj.subject_id])
        return format_html('<a href="{}">{}</a>', url, obj.subject.username)

    @admin.display(description="Stream")
    def stream_link(self, obj: Case) -> str:
        if obj.stream is None:
            return "—"
        url = reverse("admin:live_stream_change", args=[obj.stream_id])
        return format_html('<a href="{}">#{} ({})</a>', url, obj.stream_id, obj.stream.get_status_display())

    # --- the case page --------------------------------------------------------------------------

    def change_view(self, request, object_id, form_url="", extra_context=None):
        case = get_object_or_404(
            Case.objects.select_related("subject", "stream", "frame", "age_check", "enforcement__appeal"),
            pk=object_id,
        )
        extra_context = {
            **(extra_context or {}),
            "case": case,
            "can_act": selectors.user_is_moderator(request.user) and case.status == Case.Status.OPEN,
            "case_actions": sorted(services.ACTIONS_BY_KIND.get(case.kind, set())),
            "action_labels": dict(ModerationAction.Action.choices),
            "reports": case.reports.select_related("reporter").order_by("created_at"),
            "history": case.actions.select_related("actor").order_by("created_at"),
            "subject_history": Enforcement.objects.filter(user_id=case.subject_id).order_by("-created_at")[:10]
            if case.subject_id
            else [],
            "frame_url": reverse("admin:moderation_case_evidence", args=[case.pk, "frame"]) if case.frame_id else None,
            "selfie_url": reverse("admin:moderation_case_evidence", args=[case.pk, "selfie"])
            if case.age_check_id and case.age_check.selfie
            else None,
            "id_url": reverse("admin:moderation_case_evidence", args=[case.pk, "id"])
            if case.age_check_id and case.age_check.id_document
            else None,
        }
        return super().change_view(request, object_id, form_url, extra_context=extra_context)

    def act_view(self, request: HttpRequest, case_id: int) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseRedirect(reverse("admin:moderation_case_change", args=[case_id]))
        days = request.POST.get("days") or None
        try:
            case = services.case_act(
                actor=request.user,  # type: ignore[arg-type]  # staff only: the admin signs them in
                case_id=case_id,
                action=request.POST.get("action", ""),
                reason=request.POST.get("reason", ""),
                days=int(days) if days and days.isdigit() else None,
            )
        except DomainError as exc:
            if exc.status == 403:
                raise DjangoPermissionDenied(exc.message) from None
            self.message_user(request, f"{exc.message} {exc.details or ''}", messages.ERROR)
            return HttpResponseRedirect(reverse("admin:moderation_case_change", args=[case_id]))
        self.message_user(
            request, f"Case #{case.pk}: {ModerationAction.Action(case.decision).label} done.", messages.SUCCESS
        )
        following = selectors.queue_pending().exclude(pk=case.pk).order_by("-score", "created_at").first()
        if following is not None:
            return HttpResponseRedirect(reverse("admin:moderation_case_change", args=[following.pk]))
        return HttpResponseRedirect(reverse("admin:moderation_case_changelist"))

    def evidence_view(self, request: HttpRequest, case_id: int, which: str) -> HttpResponse:
        """Evidence goes only to staff who may view the case: a redirect to a link signed for a few
        minutes (MEDIA_PRIVATE_URL_SECONDS), never a public media URL."""
        if not self.has_view_permission(request) or which not in EVIDENCE_FIELDS:
            raise Http404
        case = get_object_or_404(Case.objects.select_related("frame", "age_check"), pk=case_id)
        owner_name, field_name = EVIDENCE_FIELDS[which]
        owner = getattr(case, owner_name)
        field = getattr(owner, field_name, None) if owner is not None else None
        if not field:
            raise Http404
        response = HttpResponseRedirect(field.url)  # private storage: url() is always signed
        response["Cache-Control"] = "private, no-store"
        return response

    def dashboard_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise DjangoPermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "title": "Moderation dashboard",
            "opts": self.model._meta,
            "figures": selectors.dashboard_figures(),
            "kind_labels": dict(Case.Kind.choices),
        }
        return TemplateResponse(request, "admin/moderation/case/dashboard.html", context)

    @admin.action(description="Dismiss the selected open cases (no action)")
    def dismiss_selected(self, request, queryset):
        if not selectors.user_is_moderator(request.user):
            self.message_user(request, "Only moderators can act on cases.", messages.ERROR)
            return
        done = 0
        for case_id in queryset.filter(
            status=Case.Status.OPEN, kind__in=[Case.Kind.FRAME, Case.Kind.REPORT]
        ).values_list("pk", flat=True):
            services.case_act(
                actor=request.user, case_id=case_id, action="dismiss", reason="bulk dismiss from the queue"
            )
            done += 1
        self.message_user(request, f"Dismissed {done} case(s).", messages.SUCCESS)

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not selectors.user_is_moderator(request.user):
            actions.pop("dismiss_selected", None)
        return actions


@admin.register(Frame)
class FrameAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "stream", "host", "status", "score", "model_version", "uploaded_at", "scored_at"]
    list_filter = ["status"]
    search_fields = ["host__username", "stream__title"]
    list_select_related = ["stream", "host"]
    date_hierarchy = "uploaded_at"


@admin.register(AgeCheck)
class AgeCheckAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "user", "outcome", "estimated_age", "has_id_document", "model_version", "created_at"]
    list_filter = ["outcome"]
    search_fields = ["user__username"]
    list_select_related = ["user"]
    exclude = ["selfie", "id_document"]  # shown through the case page's access-checked evidence links

    @admin.display(boolean=True, description="ID uploaded")
    def has_id_document(self, obj: AgeCheck) -> bool:
        return bool(obj.id_document)


@admin.register(Report)
class ReportAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "case", "reporter", "reason", "details", "message_text", "created_at"]
    list_filter = ["reason"]
    search_fields = ["reporter__username", "details", "message_text"]
    list_select_related = ["case", "reporter"]


@admin.register(Enforcement)
class EnforcementAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "user", "kind", "rule", "model_score", "created_at", "ends_at", "revoked_at"]
    list_filter = ["kind", "rule"]
    search_fields = ["user__username", "explanation"]
    list_select_related = ["user"]


@admin.register(Appeal)
class AppealAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "enforcement", "status", "created_at", "decided_by", "decided_at"]
    list_filter = ["status"]
    list_select_related = ["enforcement", "decided_by"]


@admin.register(ModerationAction)
class ModerationActionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["created_at", "actor_display", "action", "target_user", "stream", "case", "reason"]
    list_filter = ["action"]
    search_fields = ["actor__username", "target_user__username", "reason"]
    list_select_related = ["actor", "target_user", "stream", "case"]
    date_hierarchy = "created_at"

    @admin.display(description="Who", ordering="actor__username")
    def actor_display(self, obj: ModerationAction) -> str:
        return obj.actor.username if obj.actor else "system (model)"


@admin.register(HostBannedWord)
class HostBannedWordAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Words hosts ban in their own rooms (kept by the hosts through the API)."""

    list_display = ["term", "host", "created_at"]
    search_fields = ["term", "host__username"]
    list_select_related = ["host"]


@admin.register(BannedWord)
class BannedWordAdmin(admin.ModelAdmin):
    list_display = ["term", "language", "severity", "inside_words", "is_active", "created_at", "created_by"]
    list_editable = ["severity", "inside_words", "is_active"]
    list_filter = ["language", "is_active", "inside_words"]
    search_fields = ["term"]
    list_select_related = ["created_by"]
    readonly_fields = ["created_at", "created_by"]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
        services.banned_words_cache_clear()

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        services.banned_words_cache_clear()

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset)
        services.banned_words_cache_clear()


class ModerationSettingsForm(forms.ModelForm):
    class Meta:
        model = ModerationSettings
        fields = [
            "nsfw_review_threshold",
            "nsfw_block_threshold",
            "strikes_to_suspend",
            "strike_window_days",
            "suspension_days",
            "safe_frame_retention_hours",
            "video_sample_fps",
            "video_max_frames",
            "age_safety_margin_years",
            "chat_offences_to_mute",
            "chat_offence_window_seconds",
            "chat_mute_seconds",
            "chat_hold_min_score",
            "chat_hold_max_score",
        ]

    def clean(self):
        data = super().clean()
        review, block = data.get("nsfw_review_threshold"), data.get("nsfw_block_threshold")
        for name, value in (("nsfw_review_threshold", review), ("nsfw_block_threshold", block)):
            if value is not None and not 0 <= value <= 1:
                self.add_error(name, "A probability between 0 and 1.")
        if review is not None and block is not None and review > block:
            self.add_error("nsfw_review_threshold", "The review threshold cannot be above the block threshold.")
        low, high = data.get("chat_hold_min_score"), data.get("chat_hold_max_score")
        if low is not None and high is not None and not low <= high <= 101:
            self.add_error("chat_hold_min_score", "The hold band runs from this score up to the maximum (at most 101).")
        return data


@admin.register(ModerationSettings)
class ModerationSettingsAdmin(admin.ModelAdmin):
    form = ModerationSettingsForm
    list_display = ["__str__", "nsfw_review_threshold", "nsfw_block_threshold", "strikes_to_suspend", "updated_at"]

    def changelist_view(self, request, extra_context=None):
        row = selectors.moderation_settings_get()  # one row: go straight to it
        return HttpResponseRedirect(reverse("admin:moderation_moderationsettings_change", args=[row.pk]))

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        obj.pk = 1
        super().save_model(request, obj, form, change)
        services.moderation_settings_cache_clear()


@admin.register(HeldMessage)
class HeldMessageAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Room messages the filter held: staff approve (broadcast them) or reject them here, as hosts do in the room."""

    list_display = ["created_at", "stream", "sender", "text", "score", "status", "decided_by", "decided_at"]
    list_filter = ["status"]
    search_fields = ["sender__username", "text", "message_id"]
    list_select_related = ["stream", "sender", "decided_by"]
    actions = ["approve_selected", "reject_selected"]

    def _decide(self, request: HttpRequest, queryset, approve: bool) -> None:
        done = 0
        for message_id in queryset.filter(status=HeldMessage.Status.PENDING).values_list("message_id", flat=True):
            try:
                services.held_message_decide(
                    message_id=message_id,
                    by=request.user,  # type: ignore[arg-type]  # staff only: the admin signs them in
                    approve=approve,
                )
            except DomainError as exc:
                self.message_user(request, f"{message_id}: {exc.message}", messages.ERROR)
                continue
            done += 1
        verb = "Approved" if approve else "Rejected"
        self.message_user(request, f"{verb} {done} held message(s).", messages.SUCCESS if done else messages.WARNING)

    @admin.action(description="Approve the selected held messages (send them to the room)")
    def approve_selected(self, request, queryset):
        self._decide(request, queryset, approve=True)

    @admin.action(description="Reject the selected held messages (tell their senders)")
    def reject_selected(self, request, queryset):
        self._decide(request, queryset, approve=False)
