"""Inbox pages, mounted at /inbox/."""

from django.urls import path

from . import views

app_name = "approvals"

urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("count/", views.inbox_count, name="count"),
    path("started/", views.started, name="started"),
    path("bulk/", views.inbox_bulk_decide, name="bulk"),
    path("<int:pk>/", views.approval_detail, name="detail"),
    path("<int:pk>/decide/", views.approval_decide_view, name="decide"),
    path("<int:pk>/budget/", views.approval_budget_raise, name="budget"),
]
