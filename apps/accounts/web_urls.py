"""Browser pages under /account/: the target of the email links."""

from django.urls import path

from apps.accounts import views

urlpatterns = [
    path("email/<str:token>/", views.email_link, name="account-email-link"),
]
