from django.urls import path

from apps.hosts import apis

urlpatterns = [
    path("me/earnings/", apis.HostEarningsApi.as_view(), name="host-earnings"),
    path("me/statements/<str:month>.pdf", apis.HostStatementPdfApi.as_view(), name="host-statement-pdf"),
]
