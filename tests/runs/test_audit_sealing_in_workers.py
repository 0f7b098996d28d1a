"""Each worker process runs the audit log's sequencer every second (runs.recovery): pending events
are sealed into their chain without anyone asking."""

import time

import pytest

from agentops.audit.models import AuditEvent
from agentops.audit.services import Actor, audit_record
from agentops.audit.verify import audit_chain_verify
from tests.support.workers import running_worker


@pytest.mark.django_db(transaction=True)
def test_a_running_worker_seals_pending_audit_events_within_seconds(tenant):
    with running_worker(AGENTOPS_AUDIT_SEAL_INTERVAL_SECONDS="0.5") as worker:
        events = [audit_record(tenant=tenant, action="test.happened", actor=Actor.system("test"), data={"i": i})
                  for i in range(3)]
        deadline = time.monotonic() + 60  # the worker's start included
        while AuditEvent.objects.filter(seq__isnull=True).exists() and time.monotonic() < deadline:
            time.sleep(0.2)

        assert list(AuditEvent.objects.order_by("id").values_list("seq", flat=True)) == [1, 2, 3], worker.output()
    assert [AuditEvent.objects.get(pk=e.pk).seq for e in events] == [1, 2, 3]
    assert audit_chain_verify(tenant) == (3, None)

