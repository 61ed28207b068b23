from django.urls import path

from apps.accounts import apis

urlpatterns = [
    path("auth/signup/", apis.SignupApi.as_view(), name="auth-signup"),
    path("auth/login/", apis.LoginApi.as_view(), name="auth-login"),
    path("auth/refresh/", apis.TokenRefreshApi.as_view(), name="auth-refresh"),
    path("auth/logout/", apis.LogoutApi.as_view(), name="auth-logout"),
    path("auth/logout-all/", apis.LogoutEverywhereApi.as_view(), name="auth-logout-everywhere"),
    path("me/", apis.MeApi.as_view(), name="me"),
    path("me/password/", apis.PasswordChangeApi.as_view(), name="me-password"),
    path("me/blocked/", apis.BlockListApi.as_view(), name="me-blocked"),
    path("users/<str:username>/", apis.UserProfileApi.as_view(), name="user-profile"),
    path("users/<str:username>/follow/", apis.FollowApi.as_view(), name="user-follow"),
    path("users/<str:username>/block/", apis.BlockApi.as_view(), name="user-block"),
    path("users/<str:username>/followers/", apis.FollowerListApi.as_view(), name="user-followers"),
    path("users/<str:username>/following/", apis.FollowingListApi.as_view(), name="user-following"),
]
