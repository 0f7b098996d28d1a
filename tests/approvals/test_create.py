from datetime import timedelta

from django.utils import timezone

from agentops.audit.models import AuditEvent
from agentops.webhooks.models import Webhook, WebhookDelivery
from approvals.models import ApprovalRequest, ApprovalStatus, arguments_hash
from tests.approvals.conftest import PROPOSED


def test_create_records_a_pending_request_bound_to_the_proposed_hash(refund_request, operator):
    request = refund_request(expires_in_seconds=600, expiry_action="reject")

    assert request.status == ApprovalStatus.PENDING
    assert request.proposed_hash == arguments_hash(PROPOSED) == request.current_hash
    assert request.requested_by == operator
    assert timedelta(seconds=590) < request.expires_at - timezone.now() <= timedelta(seconds=600)
    assert AuditEvent.objects.filter(action="approval.requested", target_id=str(request.pk)).count() == 1


def test_create_is_idempotent_per_run_and_step(refund_request, waiting_run):
    run = waiting_run()

    first = refund_request(run=run, step_seq=4)
    again = refund_request(run=run, step_seq=4)

    assert again.pk == first.pk
    assert ApprovalRequest.objects.filter(run=run).count() == 1
    assert AuditEvent.objects.filter(action="approval.requested").count() == 1


def test_create_requester_is_the_user_the_run_acts_for(refund_request, waiting_run, member):
    customer = member("carol")

    request = refund_request(run=waiting_run(on_behalf_of=customer))

    assert request.requested_by == customer


def test_create_queues_approval_requested_for_subscribed_webhooks(
    refund_request, tenant, other_tenant, django_capture_on_commit_callbacks, monkeypatch
):
    enqueued = []
    monkeypatch.setattr("agentops.taskqueue.async_task", lambda func, *args, **kw: enqueued.append((func, args)))
    hook = Webhook.objects.create(tenant=tenant, name="ops", url="http://127.0.0.1:9/hook",
                                  secret="{{ secret:HOOK }}", events=["approval.requested"])
    Webhook.objects.create(tenant=tenant, name="runs only", url="http://127.0.0.1:9/runs",
                           secret="{{ secret:HOOK }}", events=["run.failed"])
    Webhook.objects.create(tenant=other_tenant, name="theirs", url="http://127.0.0.1:9/x",
                           secret="{{ secret:HOOK }}", events=["*"])

    with django_capture_on_commit_callbacks(execute=True):
        request = refund_request()

    delivery = WebhookDelivery.objects.get()
    assert delivery.webhook == hook and delivery.event == "approval.requested"
    assert delivery.payload["data"]["id"] == request.pk
    assert delivery.payload["data"]["proposed_arguments"] == PROPOSED
    assert enqueued == [("agentops.webhooks.tasks.deliver", (delivery.pk,))]
