import pytest

from agentops.audit.sequencer import audit_seal
from agentops.audit.services import Actor, audit_record


@pytest.fixture
def record():
    """record(tenant, n=1, seal=True, **fields) → the n audit events appended to the tenant's log,
    sealed into its chain unless `seal` is false."""

    def make(tenant, n: int = 1, action: str = "test.happened", seal: bool = True, **fields):
        events = [audit_record(tenant=tenant, action=action, actor=Actor.system("test"), data={"i": i}, **fields)
                  for i in range(n)]
        if seal:
            audit_seal(tenant_ids=[tenant.pk], wait=True)
            for event in events:
                event.refresh_from_db()
        return events

    return make
