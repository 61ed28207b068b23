from django.urls import path

from apps.live import views

urlpatterns = [path("streams/<id:stream_id>/watch/", views.stream_watch, name="stream-watch")]
