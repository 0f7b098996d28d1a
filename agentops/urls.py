from django.apps import apps
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from agentops import metrics, views
from runs import views as runs_views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("metrics", metrics.metrics, name="metrics"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("tenant/switch/", views.tenant_switch, name="tenant-switch"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # No OPTIONS description: the page's HTML renderer cannot render one (405 instead of a 500).
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema", metadata_class=None), name="api-docs"),
    path("api/v1/", include("agentops.api_urls")),
    path("inbox/", include("approvals.urls")),
    path("runs/", include("runs.urls")),
    path("dashboard/", runs_views.dashboard, name="dashboard"),
    path("audit/", include("agentops.audit.urls")),
    path("evals/", include("evals.urls")),
    path("memory/", include("agentops.memory.urls")),
]
if apps.is_installed("demo"):
    urlpatterns.append(path("demo/", include("demo.urls")))
# Last: whatever else is under /api/ answers the JSON envelope, not Django's HTML pages.
urlpatterns.append(re_path(r"^api/", views.api_not_found, name="api-not-found"))

handler400 = views.bad_request
handler500 = views.server_error
