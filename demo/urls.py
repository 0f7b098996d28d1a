"""/demo/: the demo billing API (see demo.billing), mounted only when the demo app is installed."""

from django.urls import path

from .billing import refund_create

urlpatterns = [
    path("billing/refunds", refund_create, name="demo-billing-refund-create"),
]
