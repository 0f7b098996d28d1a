"""/demo/billing/: the demo billing API (see tools.demo.billing)."""

from django.urls import path

from .billing import refund_create

urlpatterns = [
    path("refunds", refund_create, name="demo-billing-refund-create"),
]
