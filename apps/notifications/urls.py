from django.urls import path

from apps.notifications import apis

urlpatterns = [
    path("", apis.NotificationListApi.as_view(), name="notification-list"),
    path("<id:notification_id>/read/", apis.NotificationReadApi.as_view(), name="notification-read"),
    path("read-all/", apis.NotificationReadAllApi.as_view(), name="notification-read-all"),
    path("unread-count/", apis.NotificationUnreadCountApi.as_view(), name="notification-unread-count"),
    path("devices/", apis.DeviceRegisterApi.as_view(), name="notification-device-register"),
    path("devices/unregister/", apis.DeviceUnregisterApi.as_view(), name="notification-device-unregister"),
    path("preferences/", apis.PreferenceApi.as_view(), name="notification-preferences"),
]
