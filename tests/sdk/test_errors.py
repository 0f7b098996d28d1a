"""Each error class from the API answer that maps to it, with the envelope's code and message."""

import pytest
from agentops_client import (
    AgentOps,
    AgentOpsError,
    APIError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
)

from runs.engine import execute_run
from tests.factories import TenantFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_unknown_key_is_an_authentication_error(sdk, helper):
    with pytest.raises(AuthenticationError) as failed:
        sdk(key="ak_not-a-key").agents.get("helper")

    assert failed.value.status_code == 401 and failed.value.code == "authentication_failed"


def test_a_key_without_the_scope_is_permission_denied(sdk, helper, viewer_key, start_runs):
    with pytest.raises(PermissionDeniedError) as failed:
        sdk(key=viewer_key).runs.create(agent="helper", message="hi")

    assert failed.value.status_code == 403 and failed.value.code == "permission_denied"


def test_another_tenants_run_is_not_found(sdk, other_tenant, member, api_key_for, start_runs, helper):
    [run_id] = start_runs(1)
    stranger = api_key_for(member("sten", in_tenant=other_tenant), other_tenant)

    with pytest.raises(NotFoundError) as failed:
        sdk(key=stranger).runs.get(run_id)

    assert failed.value.status_code == 404 and failed.value.code == "not_found"
    assert [run.id for run in sdk().runs.list()] == [run_id]
    assert list(sdk(key=stranger).runs.list()) == []


def test_an_unknown_agent_is_a_bad_request_with_its_code(sdk, helper):
    with pytest.raises(BadRequestError) as failed:
        sdk().runs.create(agent="nobody", message="hi")

    assert failed.value.status_code == 400 and failed.value.code == "unknown_agent"
    assert "nobody" in failed.value.message


def test_an_invalid_field_carries_the_details(sdk, helper):
    with pytest.raises(BadRequestError) as failed:
        sdk().runs.list(status="bogus").pages().__next__()

    assert failed.value.code == "invalid" and "status" in failed.value.details


def test_a_stale_decision_is_a_conflict(sdk, gatekeeper, approver_key, start_runs):
    [run_id] = start_runs(1, agent="gatekeeper", input={})
    execute_run(run_id)
    approvals = sdk(key=approver_key).approvals
    [request] = list(approvals.list(status="pending"))

    with pytest.raises(ConflictError) as failed:
        approvals.approve(request.id, seen_hash="0" * 64)

    assert failed.value.code == "stale" and approvals.get(request.id).status == "pending"


def test_over_the_rate_limit_is_a_rate_limit_error_with_the_wait(sdk, member, api_key_for):
    slow = TenantFactory(slug="slow", api_rate_read_per_minute=1)
    client = sdk(key=api_key_for(member("rhea", in_tenant=slow), slow), max_retries=0)
    list(client.agents.list())

    with pytest.raises(RateLimitError) as failed:
        list(client.agents.list())

    assert failed.value.status_code == 429 and failed.value.code == "rate_limited"
    assert failed.value.retry_after == failed.value.details["retry_after"] > 0
    assert failed.value.details["kind"] == "read"


def test_every_api_error_is_an_agentops_error(sdk):
    with pytest.raises(APIError) as failed:
        sdk().agents.get("nobody")

    assert isinstance(failed.value, AgentOpsError) and "not_found" in str(failed.value)


def test_a_client_without_a_key_says_how_to_give_one(monkeypatch):
    monkeypatch.delenv("AGENTOPS_API_KEY", raising=False)

    with pytest.raises(AgentOpsError, match="AGENTOPS_API_KEY"):
        AgentOps()


def test_the_key_and_base_url_come_from_the_environment(monkeypatch, live_server, key, helper):
    monkeypatch.setenv("AGENTOPS_API_KEY", key)
    monkeypatch.setenv("AGENTOPS_BASE_URL", f"{live_server.url}/api/v1/")

    with AgentOps() as client:
        assert client.agents.get("helper").slug == "helper"
