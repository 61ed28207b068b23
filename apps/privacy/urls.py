from django.urls import path

from apps.privacy import apis

urlpatterns = [
    path("me/deletion/", apis.AccountDeletionRequestApi.as_view(), name="me-deletion"),
    path("me/deletion/undo/", apis.AccountDeletionUndoApi.as_view(), name="me-deletion-undo"),
    path("me/export/", apis.AccountExportApi.as_view(), name="me-export"),
]
