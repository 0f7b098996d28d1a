"""A workflow's generic `ctx.approval` (no tool, no schema), and the admin pages."""

import pytest

from approvals.models import ApprovalStatus, Webhook, WebhookDelivery
from approvals.services import approval_decide, approval_request_create
from approvals.webhooks import webhook_emit


def test_a_generic_approval_takes_edited_arguments_as_given(waiting_run, approver, principal_for, tenant):
    request = approval_request_create(run=waiting_run(), step_seq=1, title="Publish the release notes?",
                                      proposed_arguments={"channel": "#general"}, context={"reason": "v2 is out"})

    approval_decide(request_id=request.pk, user=approver, verdict="approve", seen_hash=request.current_hash,
                    arguments={"channel": "#announcements", "pin": True}, principal=principal_for(approver, tenant))

    request.refresh_from_db()
    assert request.status == ApprovalStatus.APPROVED
    assert request.approved_arguments == {"channel": "#announcements", "pin": True}


def test_a_generic_approval_page_offers_a_yes_or_no(waiting_run, approver, client):
    request = approval_request_create(run=waiting_run(), step_seq=1, title="Go ahead?", proposed_arguments={},
                                      context={})
    client.force_login(approver)

    page = client.get(f"/inbox/{request.pk}/").content.decode()

    assert "yes-or-no decision" in page and "Approve with edits" not in page


@pytest.fixture
def admin_client_with_data(admin_client, refund_request, tenant, monkeypatch):
    monkeypatch.setattr("django_q.tasks.async_task", lambda *args, **kwargs: None)
    Webhook.objects.create(tenant=tenant, name="ops", url="http://127.0.0.1:9/h", secret="{{ secret:H }}",
                           events=["*"])
    refund_request()
    webhook_emit(tenant=tenant, event="run.failed", payload={})
    return admin_client


@pytest.mark.parametrize("model", ["approvalrequest", "webhook", "webhookdelivery"])
def test_the_admin_lists_and_shows_each_model(admin_client_with_data, model):
    from django.apps import apps

    obj = apps.get_model("approvals", model).objects.first()

    assert admin_client_with_data.get(f"/admin/approvals/{model}/").status_code == 200
    assert admin_client_with_data.get(f"/admin/approvals/{model}/{obj.pk}/change/").status_code == 200


def test_the_admin_retries_a_delivery(admin_client_with_data):
    delivery = WebhookDelivery.objects.get(event="run.failed")
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status="failed", attempts=8)

    admin_client_with_data.post("/admin/approvals/webhookdelivery/",
                                {"action": "retry_now", "_selected_action": [delivery.pk]})

    delivery.refresh_from_db()
    assert delivery.status == "pending" and delivery.next_attempt_at is None
