"""Forgetting a user or a thread in the approvals of their runs (registered with
agentops.memory.forgetting in approvals.apps, called in memory_forget's transaction).

A request keeps what governs it — its status, tool, kind, risk, who decided and when, and the
hashes of the arguments each approver saw and approved — and loses its words: title, context,
arguments and comments, its decisions' comments and edits, and those of the approval webhooks
sent about it. The audit log is the exception: it is the tamper-evident record of who approved
what, kept whole (docs/memory.md, "Forgetting").
"""

from __future__ import annotations

from agentops.memory.forgetting import Forgotten
from agentops.webhooks.models import WebhookDelivery
from runs.forgetting import FORGOTTEN, deliveries_forget, forgotten_runs

from .models import ApprovalDecision, ApprovalRequest


def approvals_forget(*, tenant, username: str | None, thread: str | None, actor) -> Forgotten:
    runs = forgotten_runs(tenant=tenant, username=username, thread=thread)
    requests = ApprovalRequest.objects.filter(tenant=tenant, run__in=runs)
    ApprovalDecision.objects.filter(request__in=requests).update(comment="", arguments=None, changes={})
    run_ids = [str(pk) for pk in runs.values_list("pk", flat=True)]
    count = requests.update(title=FORGOTTEN, context={}, proposed_arguments={}, approved_arguments=None,
                            current_arguments=None, comment="")
    deliveries = deliveries_forget(tenant=tenant, deliveries=WebhookDelivery.objects.filter(
        payload__data__run__in=run_ids), forget=_approval_event_forget)
    return Forgotten(counts={"approval_requests": count, "approval_webhook_deliveries": deliveries})


def _approval_event_forget(data: dict) -> dict:
    return {**data, "title": FORGOTTEN, "proposed_arguments": {}, "approved_arguments": None, "comment": ""}
