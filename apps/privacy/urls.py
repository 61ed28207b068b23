from django.urls import path

from apps.privacy import apis

urlpatterns = [
    path("me/deletion/", apis.AccountDeletionRequestApi.as_view(), name="me-deletion"),
    path("me/deletion/undo/", apis.AccountDeletionUndoApi.as_view(), name="me-deletion-undo"),
    path("me/export/", apis.AccountExportDeprecatedApi.as_view(), name="me-export"),
    path("me/exports/", apis.DataExportRequestApi.as_view(), name="me-exports"),
    path("me/exports/<id:export_id>/", apis.DataExportDetailApi.as_view(), name="me-export-detail"),
]
