from django.urls import path

from apps.moderation import apis

urlpatterns = [
    path("frames/", apis.FrameUploadApi.as_view(), name="moderation-frame-upload"),
    path("age-verification/", apis.AgeVerificationApi.as_view(), name="moderation-age-verification"),
    path("age-verification/id-document/", apis.AgeIdDocumentApi.as_view(), name="moderation-age-id-document"),
    path("reports/", apis.ReportCreateApi.as_view(), name="moderation-report"),
    path("host-words/", apis.HostWordListCreateApi.as_view(), name="moderation-host-words"),
    path("host-words/<id:word_id>/", apis.HostWordDetailApi.as_view(), name="moderation-host-word"),
    path("enforcements/", apis.EnforcementListApi.as_view(), name="moderation-enforcements"),
    path(
        "enforcements/<id:enforcement_id>/appeal/",
        apis.EnforcementAppealApi.as_view(),
        name="moderation-enforcement-appeal",
    ),
]
