from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from apps.core import views as core_views
from apps.core.analytics_views import analytics_view
from apps.core.metrics import metrics_view
from apps.core.schema import ApiDocsAccess
from apps.core.twofactor import admin_two_factor_view
from apps.live.views import asyncapi_document

api_v1 = [
    path("", include("apps.accounts.urls")),
    path("wallet/", include("apps.wallet.urls")),
    path("payments/", include("apps.payments.urls")),
    path("gifts/", include("apps.gifts.urls")),
    path("streams/", include("apps.live.urls")),
    path("categories/", include("apps.live.category_urls")),
    path("og/", include("apps.og.urls")),
    path("games/", include("apps.games.urls")),
    path("moderation/", include("apps.moderation.urls")),
    path("reels/", include("apps.reels.urls")),
    path("", include("apps.privacy.urls")),
    path("hosts/", include("apps.hosts.urls")),
    path("notifications/", include("apps.notifications.urls")),
    path("search/", include("apps.search.urls")),
]

urlpatterns = [
    path("healthz", core_views.healthz, name="healthz"),
    path("readyz", core_views.readyz, name="readyz"),
    path("media-private/<str:token>", core_views.private_media, name="private-media"),
    path("api/v1/", include(api_v1)),
    # Staff only in production unless API_DOCS_PUBLIC; the split view serves its script as a file (CSP).
    path("api/schema/", SpectacularAPIView.as_view(permission_classes=[ApiDocsAccess]), name="schema"),
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(url_name="schema", permission_classes=[ApiDocsAccess]),
        name="api-docs",
    ),
    path("api/docs/errors/", core_views.error_catalogue_page, name="api-error-catalogue"),
    path("api/asyncapi.yaml", asyncapi_document, name="asyncapi"),  # the rooms' contract
    path("metrics", metrics_view, name="metrics"),  # token or internal networks only (apps/core/metrics.py)
    path("admin/2fa/", admin_two_factor_view, name="admin-2fa"),
    path("admin/analytics/", admin.site.admin_view(analytics_view), name="admin-analytics"),
    path("admin/", admin.site.urls),
    path("", include("apps.payments.web_urls")),
    path("sandbox/fcm/", include("apps.notifications.sandbox.urls")),
    path("", include("apps.live.web_urls")),
    path("account/", include("apps.accounts.web_urls")),
    path("sandbox/sparrow/", include("apps.accounts.sms.sandbox_urls")),
]

if settings.EMBEDDED and settings.MEDIA_STORAGE == "filesystem":
    # Public media only: private files live outside MEDIA_ROOT and are reached by signed links.
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
