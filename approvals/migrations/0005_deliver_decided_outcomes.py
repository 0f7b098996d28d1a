"""Decisions now reach a run as the output of its waiting step (runs.waits.wait_deliver); before,
the engine read them from the request when the run resumed. Requests decided before this change
whose run has not read them yet get their outcome delivered here, so those runs resume with it."""

from django.db import migrations

DECIDED = ("approved", "rejected", "expired")


def deliver_decided_outcomes(apps, schema_editor):
    ApprovalRequest = apps.get_model("approvals", "ApprovalRequest")
    Step = apps.get_model("runs", "Step")
    decided = ApprovalRequest.objects.filter(status__in=DECIDED).select_related("decided_by")
    for request in decided.iterator():
        approved = request.status == "approved"
        arguments = request.proposed_arguments if request.approved_arguments is None else request.approved_arguments
        Step.objects.filter(run_id=request.run_id, seq=request.step_seq, status="waiting").update(
            status="completed", finished_at=request.decided_at, output={
                "approved": approved, "arguments": arguments if approved else None, "comment": request.comment,
                "decided_by": request.decided_by.username if request.decided_by else None,
                "status": request.status, "request": str(request.pk),
            })


class Migration(migrations.Migration):
    dependencies = [
        ("approvals", "0004_webhooks_move_to_core"),
        ("runs", "0003_engine_indexes"),
    ]

    operations = [migrations.RunPython(deliver_decided_outcomes, migrations.RunPython.noop)]
