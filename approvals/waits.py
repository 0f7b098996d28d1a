"""Approvals as a kind of wait of the run engine (see runs.waits): registered in AppConfig.ready()."""

from __future__ import annotations

from runs.waits import WaitView

from .models import ApprovalRequest, ApprovalStatus
from .services import (
    approval_cancel_for_run, approval_decide_scripted, approval_expire_due, approval_request_create,
)


class ApprovalWaits:
    def open(self, *, run, seq: int, request: dict) -> dict:
        created = approval_request_create(run=run, step_seq=seq, **request)
        return {"request": str(created.pk)}

    def cancel(self, *, run) -> int:
        return approval_cancel_for_run(run=run)

    def expire_due(self, *, now) -> int:
        return approval_expire_due(now=now)

    def describe(self, *, run, seqs: list[int] | None) -> dict[int, WaitView]:
        requests = ApprovalRequest.objects.filter(run=run, tenant_id=run.tenant_id)
        requests = requests.filter(step_seq__in=seqs) if seqs is not None else requests.filter(
            status=ApprovalStatus.PENDING)
        return {request.step_seq: WaitView(title=request.title, url=f"/inbox/{request.pk}/", status=request.status,
                                           status_label=request.get_status_display())
                for request in requests.order_by("step_seq")}

    def open_count(self, *, tenant_id) -> int:
        return ApprovalRequest.objects.filter(tenant_id=tenant_id, status=ApprovalStatus.PENDING).count()

    def decide_scripted(self, *, run, seq: int, decision: dict) -> bool:
        return approval_decide_scripted(run=run, seq=seq, approve=decision.get("decision") == "approve",
                                        arguments=decision.get("arguments"), comment=decision.get("comment", ""))
