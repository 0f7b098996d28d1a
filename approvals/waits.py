"""Approvals as a kind of wait of the run engine (see runs.waits): registered in AppConfig.ready()."""

from __future__ import annotations

import math
from datetime import timedelta

from django.db.models import Count, F, Min

from runs.rollups import MillisBetween
from runs.waits import ResolutionTimes, WaitAges, WaitView

from .models import ApprovalRequest, ApprovalStatus
from .selectors import approval_list_for_steps
from .serializers import ApprovalRequestSerializer
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

    def open_ages(self, *, tenant_id, now) -> WaitAges:
        """Two queries on the (tenant, status, created_at, id) index: the count and the oldest,
        then the median request, newest first."""
        pending = ApprovalRequest.objects.filter(tenant_id=tenant_id, status=ApprovalStatus.PENDING)
        summary = pending.aggregate(n=Count("pk"), oldest=Min("created_at"))
        median = _at_rank(pending.order_by("-created_at").values_list("created_at", flat=True), 0.5, summary["n"])
        if median is None:
            return WaitAges(0, None, None)
        return WaitAges(summary["n"], now - summary["oldest"], now - median)

    def resolution_times(self, *, tenant_id, since) -> ResolutionTimes:
        """Creation to decision of the requests approved or rejected since `since`: a count, then
        the request at each quantile's rank ordered by that time, in the database (the
        `approval_decided` index finds them)."""
        decided = (ApprovalRequest.objects
                   .filter(tenant_id=tenant_id, decided_at__gte=since,
                           status__in=(ApprovalStatus.APPROVED, ApprovalStatus.REJECTED))
                   .annotate(wait_ms=MillisBetween(F("decided_at"), F("created_at"))))
        n = decided.count()
        at = [_at_rank(decided.order_by("wait_ms").values_list("wait_ms", flat=True), q, n) for q in (0.5, 0.95)]
        return ResolutionTimes(n, *(None if ms is None else timedelta(milliseconds=ms) for ms in at))

    def decide_scripted(self, *, run, seq: int, decision: dict) -> bool:
        return approval_decide_scripted(run=run, seq=seq, approve=decision.get("decision") == "approve",
                                        arguments=decision.get("arguments"), comment=decision.get("comment", ""))

    def api_objects(self, *, run, seqs: list[int]) -> dict[int, dict]:
        requests = approval_list_for_steps(run=run, seqs=seqs)
        return {request.step_seq: data for request, data in
                zip(requests, ApprovalRequestSerializer(requests, many=True).data)}


def _at_rank(values, q: float, n: int):
    """The q-th quantile (nearest rank) of the n sorted `values`, read by the database with an
    OFFSET; None when there are none. Always one query, so the dashboard's count is fixed."""
    rank = max(math.ceil(q * n), 1) - 1
    return next(iter(values[rank:rank + 1]), None)
