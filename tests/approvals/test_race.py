"""Concurrent clicks on one request, on PostgreSQL with real threads: exactly one decision wins.

SQLite serialises every write transaction, so only PostgreSQL shows whether the row lock and the
compare-and-swap hold under real concurrency.
"""

import threading

import pytest
from django.db import connection

from agentops.audit.models import AuditEvent
from agentops.tenancy.roles import Role
from approvals.models import ApprovalDecision, ApprovalStatus
from approvals.services import ApprovalError, approval_decide
from runs.models import RunStatus

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("the decision race needs PostgreSQL (DATABASE_URL)")


def click_at_once(request, users, principal_for, tenant, verdicts):
    """Every user decides at the same moment, each in its own thread and connection."""
    barrier = threading.Barrier(len(users))
    outcomes = {}

    def click(user, verdict):
        try:
            principal = principal_for(user, tenant)
            barrier.wait(timeout=10)
            approval_decide(request_id=request.pk, user=user, verdict=verdict, seen_hash=request.current_hash,
                            comment="" if verdict == "approve" else "No.", principal=principal)
            outcomes[user.username] = "won"
        except ApprovalError as error:
            outcomes[user.username] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=click, args=(u, v)) for u, v in zip(users, verdicts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


@pytest.mark.parametrize("verdicts", [("approve",) * 4, ("approve", "reject", "approve", "reject")])
def test_exactly_one_of_concurrent_decisions_wins(refund_request, member, principal_for, tenant, verdicts):
    users = [member(f"approver{i}", Role.APPROVER) for i in range(len(verdicts))]
    request = refund_request()

    outcomes = click_at_once(request, users, principal_for, tenant, verdicts)

    winners = [name for name, outcome in outcomes.items() if outcome == "won"]
    assert len(outcomes) == len(users) and len(winners) == 1, outcomes
    losers = [outcome for outcome in outcomes.values() if outcome != "won"]
    assert all(error.code == "already_decided" and f"by {winners[0]}" in error.message for error in losers), losers
    request.refresh_from_db()
    assert request.status in (ApprovalStatus.APPROVED, ApprovalStatus.REJECTED)
    assert request.decided_by.username == winners[0]
    assert ApprovalDecision.objects.filter(request=request).count() == 1
    assert AuditEvent.objects.filter(action__in=["approval.approved", "approval.rejected"]).count() == 1
    assert request.run.status == RunStatus.QUEUED
