"""The audit page, mounted at /audit/."""

from django.urls import path

from . import views

app_name = "audit"

urlpatterns = [
    path("", views.audit_page, name="page"),
    path("export/", views.audit_export, name="export"),
]
