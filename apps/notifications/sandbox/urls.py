"""Mounted at /sandbox/fcm/: token and v1/... mirror oauth2.googleapis.com/token and fcm.googleapis.com."""

from django.urls import path

from apps.notifications.sandbox import views

urlpatterns = [
    path("", views.inbox, name="sandbox-fcm-inbox"),
    path("token", views.token, name="sandbox-fcm-token"),
    path("v1/projects/<str:project_id>/messages:send", views.send, name="sandbox-fcm-send"),
    path("scenarios/<str:device_token>/", views.scenario, name="sandbox-fcm-scenario"),
]
