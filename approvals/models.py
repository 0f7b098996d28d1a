"""Human decisions a run waits for (a gated tool call or a workflow's generic `ctx.approval`).

Three sets of arguments are kept for a tool approval: `proposed_arguments` (what the agent asked
for, never changed), `approved_arguments` (what the decision allowed) and the executed ones, which
are the input of the run's tool step right after the approval step (see `approvals.selectors`).
"""

import hashlib
import json

from django.conf import settings
from django.db import models

from tools.models import ExpiryAction, Risk


def arguments_hash(arguments) -> str:
    """The hash a decision is bound to: canonical JSON of the arguments the approver saw."""
    canonical = json.dumps(arguments, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


# A decision's comment goes into the agent's next prompt, so it is bounded.
COMMENT_MAX_LENGTH = 4000

class ApprovalStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    EXPIRED = "expired", "Expired"
    CANCELLED = "cancelled", "Cancelled"


class ApprovalKind(models.TextChoices):
    ACTION = "action", "Action"  # a gated tool call or a workflow's ctx.approval
    BUDGET = "budget", "Budget"  # a run paused by a used-up budget, before a model call


class ApprovalRequest(models.Model):
    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.CASCADE, related_name="approval_requests")
    run = models.ForeignKey("runs.Run", on_delete=models.CASCADE, related_name="approval_requests")
    # The run's agent, copied at creation (a run never changes agent) so that the inbox's agent
    # filter is served by an index instead of a join through every run.
    agent = models.ForeignKey("agents.Agent", on_delete=models.PROTECT, related_name="+")
    step_seq = models.PositiveIntegerField(help_text="The approval step of the run that waits for this.")
    kind = models.CharField(max_length=10, choices=ApprovalKind.choices, default=ApprovalKind.ACTION)
    tool_name = models.CharField(max_length=200, blank=True, help_text="Empty for a generic ctx.approval.")
    title = models.CharField(max_length=300)
    context = models.JSONField(default=dict, blank=True, help_text="request, findings, reason")
    proposed_arguments = models.JSONField(default=dict, blank=True)
    proposed_hash = models.CharField(max_length=64)
    approved_arguments = models.JSONField(null=True, blank=True)
    risk = models.CharField(max_length=10, choices=Risk.choices, default=Risk.MEDIUM)
    status = models.CharField(max_length=20, choices=ApprovalStatus.choices, default=ApprovalStatus.PENDING)
    required_approvals = models.PositiveSmallIntegerField(default=1)
    approver_group = models.ForeignKey(
        "auth.Group", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="Who may decide; empty: any member whose role may decide approvals.",
    )
    escalation_group = models.ForeignKey("auth.Group", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    expires_at = models.DateTimeField(null=True, blank=True)
    expiry_action = models.CharField(max_length=10, choices=ExpiryAction.choices, default=ExpiryAction.WAIT)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Under a quorum an approver may edit the arguments before everyone has approved: the edit is
    # then what the remaining approvers are asked to approve, and votes for older versions no
    # longer count. `current_hash` is the hash every decision must have seen.
    current_arguments = models.JSONField(
        null=True, blank=True, help_text="An approver's edit awaiting the rest of the quorum; empty: as proposed."
    )
    current_hash = models.CharField(max_length=64, blank=True)
    escalated_at = models.DateTimeField(
        null=True, blank=True, help_text="When expiry handed the request to the escalation group (once only)."
    )

    class Meta:
        ordering = ["created_at"]
        constraints = [models.UniqueConstraint(fields=["run", "step_seq"], name="one_request_per_step")]
        # Lists are ordered by (created_at, id), a keyset pagination's position: an index per
        # filter the inbox and the API offer, each ending in that order, so no page is sorted.
        indexes = [
            models.Index(fields=["tenant", "status", "created_at", "id"], name="approval_status_order"),
            models.Index(fields=["tenant", "created_at", "id"], name="approval_order"),
            # The dashboard's time to decision: the requests decided in a period.
            models.Index(fields=["tenant", "decided_at"], name="approval_decided",
                         condition=models.Q(decided_at__isnull=False)),
            models.Index(fields=["tenant", "status", "agent", "created_at", "id"], name="approval_agent_order"),
            models.Index(fields=["tenant", "status", "tool_name", "created_at", "id"], name="approval_tool_order"),
        ]

    def __str__(self):
        return f"{self.title} ({self.status})"

    @property
    def is_pending(self) -> bool:
        return self.status == ApprovalStatus.PENDING

    @property
    def arguments_under_review(self) -> dict:
        """The arguments a decision approves now: the proposal, or the quorum's pending edit."""
        return self.proposed_arguments if self.current_arguments is None else self.current_arguments

    @property
    def policy_key(self) -> tuple:
        """What must match, besides the arguments, for requests to be decided together."""
        return self.tool_name, self.risk, self.required_approvals, self.approver_group_id

    @property
    def bulk_group(self) -> str:
        """Requests of one group are identical: same tool, arguments under review and policy."""
        return hashlib.sha256(repr((self.policy_key, self.current_hash)).encode()).hexdigest()[:16]

    @property
    def approval_count(self) -> int:
        """Distinct approvers of the arguments under review (reads prefetched `decisions` when there)."""
        return len({
            d.user_id for d in self.decisions.all()
            if d.verdict == ApprovalDecision.Verdict.APPROVE and d.approved_hash == self.current_hash
        })


class ApprovalDecision(models.Model):
    """One approver's vote; a request with a quorum collects several before it is decided."""

    class Verdict(models.TextChoices):
        APPROVE = "approve", "Approve"
        REJECT = "reject", "Reject"

    request = models.ForeignKey(ApprovalRequest, on_delete=models.CASCADE, related_name="decisions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    verdict = models.CharField(max_length=10, choices=Verdict.choices)
    comment = models.TextField(blank=True)
    arguments = models.JSONField(null=True, blank=True, help_text="Edited arguments, when the approver changed them.")
    seen_hash = models.CharField(max_length=64, help_text="Hash of the arguments the approver was shown.")
    approved_hash = models.CharField(
        max_length=64, blank=True, help_text="Hash of the arguments this vote approves; empty for a rejection."
    )
    changes = models.JSONField(
        default=dict, blank=True, help_text="{argument: [seen, edited]} when the approver edited the arguments."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]
        # One vote per approver and version of the arguments: after a quorum edit, earlier
        # approvers are asked again, about the new version.
        constraints = [
            models.UniqueConstraint(fields=["request", "user", "seen_hash"], name="one_vote_per_approver_and_version")
        ]

    def __str__(self):
        return f"{self.verdict} by {self.user_id} on request {self.request_id}"
