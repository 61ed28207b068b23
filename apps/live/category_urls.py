from django.urls import path

from apps.live import apis

urlpatterns = [path("", apis.CategoryListApi.as_view(), name="categories")]
