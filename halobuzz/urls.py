from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from apps.core import views as core_views

api_v1 = [
    path("", include("apps.accounts.urls")),
    path("wallet/", include("apps.wallet.urls")),
    path("gifts/", include("apps.gifts.urls")),
    path("streams/", include("apps.live.urls")),
    path("og/", include("apps.og.urls")),
    path("games/", include("apps.games.urls")),
    path("moderation/", include("apps.moderation.urls")),
    path("reels/", include("apps.reels.urls")),
]

urlpatterns = [
    path("healthz", core_views.healthz, name="healthz"),
    path("readyz", core_views.readyz, name="readyz"),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("admin/", admin.site.urls),
    path("", include("apps.live.web_urls")),
]

if settings.EMBEDDED:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)

handler404 = "apps.core.views.not_found"
handler500 = "apps.core.views.server_error"
