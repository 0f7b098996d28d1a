"""The demo's admin pages read the demo database, and what they show of the platform's rows
(tenants, users) comes from the platform's database."""

import pytest

from demo.models import DemoArticle, DemoCustomer, DemoOrder, DemoRefund, DemoTicket
from demo.seed import seed_demo
from demo.services import demo_refund_create

from .conftest import DEMO_DATABASES

pytestmark = pytest.mark.django_db(databases=DEMO_DATABASES)


@pytest.fixture
def seeded(admin_client):
    seed_demo()
    order = DemoOrder.objects.get(order_id="1043")
    demo_refund_create(tenant=order.tenant, idempotency_key="k-1", order_id="1043", amount=order.amount)
    DemoTicket.objects.create(tenant=order.tenant, subject="Parcel lost")


@pytest.mark.parametrize("model", [DemoArticle, DemoCustomer, DemoOrder, DemoRefund, DemoTicket],
                         ids=lambda m: m.__name__)
def test_the_list_and_change_pages_load(admin_client, seeded, model):
    base = f"/admin/demo/{model._meta.model_name}/"
    obj = model.objects.first()

    listed = admin_client.get(base)
    changed = admin_client.get(f"{base}{obj.pk}/change/")

    assert listed.status_code == 200 and changed.status_code == 200
    assert listed.context["cl"].result_count == model.objects.count() > 0
    assert "demo" in listed.content.decode()  # the tenant's slug, read from the platform's database
