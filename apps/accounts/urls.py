from django.urls import path

from apps.accounts import apis

urlpatterns = [
    path("auth/signup/", apis.SignupApi.as_view(), name="auth-signup"),
    path("auth/login/", apis.LoginApi.as_view(), name="auth-login"),
    path("auth/refresh/", apis.TokenRefreshApi.as_view(), name="auth-refresh"),
    path("auth/logout/", apis.LogoutApi.as_view(), name="auth-logout"),
    path("auth/logout-all/", apis.LogoutEverywhereApi.as_view(), name="auth-logout-everywhere"),
    path("auth/signup/phone/code/", apis.SignupPhoneCodeApi.as_view(), name="auth-signup-phone-code"),
    path("auth/signup/phone/", apis.SignupPhoneApi.as_view(), name="auth-signup-phone"),
    path("auth/login/2fa/", apis.LoginSecondFactorApi.as_view(), name="auth-login-2fa"),
    path("auth/password/reset/", apis.PasswordResetApi.as_view(), name="auth-password-reset"),
    path("auth/password/reset/confirm/", apis.PasswordResetConfirmApi.as_view(), name="auth-password-reset-confirm"),
    path("auth/email/confirm/", apis.EmailConfirmApi.as_view(), name="auth-email-confirm"),
    path("me/", apis.MeApi.as_view(), name="me"),
    path("me/phone/verify/code/", apis.PhoneVerifyCodeApi.as_view(), name="me-phone-verify-code"),
    path("me/phone/verify/", apis.PhoneVerifyApi.as_view(), name="me-phone-verify"),
    path("me/email/verify/", apis.EmailVerifyApi.as_view(), name="me-email-verify"),
    path("me/contact/change/", apis.ContactChangeApi.as_view(), name="me-contact-change"),
    path("me/contact/change/confirm/", apis.ContactChangeConfirmApi.as_view(), name="me-contact-change-confirm"),
    path("me/2fa/totp/", apis.TwoFactorSetupApi.as_view(), name="me-2fa-setup"),
    path("me/2fa/totp/confirm/", apis.TwoFactorConfirmApi.as_view(), name="me-2fa-confirm"),
    path("me/2fa/disable/", apis.TwoFactorDisableApi.as_view(), name="me-2fa-disable"),
    path("me/password/", apis.PasswordChangeApi.as_view(), name="me-password"),
    path("me/blocked/", apis.BlockListApi.as_view(), name="me-blocked"),
    path("users/<str:username>/", apis.UserProfileApi.as_view(), name="user-profile"),
    path("users/<str:username>/follow/", apis.FollowApi.as_view(), name="user-follow"),
    path("users/<str:username>/block/", apis.BlockApi.as_view(), name="user-block"),
    path("users/<str:username>/followers/", apis.FollowerListApi.as_view(), name="user-followers"),
    path("users/<str:username>/following/", apis.FollowingListApi.as_view(), name="user-following"),
]
