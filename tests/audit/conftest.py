import pytest

from agentops.audit.services import Actor, audit_record


@pytest.fixture
def record():
    """record(tenant, n=1, **fields) → the n audit events appended to the tenant's chain."""

    def make(tenant, n: int = 1, action: str = "test.happened", **fields):
        return [audit_record(tenant=tenant, action=action, actor=Actor.system("test"), data={"i": i}, **fields)
                for i in range(n)]

    return make
