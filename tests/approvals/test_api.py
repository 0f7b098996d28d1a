import pytest
from rest_framework.test import APIClient

from agentops.tenancy.roles import Role
from approvals.models import ApprovalStatus
from approvals.services import approval_decide
from runs.models import RunStatus
from tests.approvals.conftest import PROPOSED
from tests.factories import AgentFactory


@pytest.fixture
def client_for(api_key_for, tenant):
    """client_for(user, scopes=..., in_tenant=None) → an API client with that user's key."""

    def make(user, scopes=("read", "approvals:write"), in_tenant=None):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_for(user, in_tenant or tenant, scopes)}")
        return client

    return make


def approve_url(request):
    return f"/api/v1/approvals/{request.pk}/approve/"


def reject_url(request):
    return f"/api/v1/approvals/{request.pk}/reject/"


def test_list_shows_every_status_by_default_and_filters_by_status(refund_request, client_for, approver, principal_for,
                                                                  second_approver, tenant):
    pending, decided = refund_request(), refund_request()
    approval_decide(request_id=decided.pk, user=second_approver, verdict="approve", seen_hash=decided.current_hash,
                    principal=principal_for(second_approver, tenant))
    client = client_for(approver)

    everything = client.get("/api/v1/approvals/").json()["results"]
    only_pending = client.get("/api/v1/approvals/?status=pending").json()["results"]

    assert [r["id"] for r in everything] == [pending.pk, decided.pk]
    assert [r["id"] for r in only_pending] == [pending.pk]
    assert only_pending[0]["seen_hash"] == pending.current_hash
    assert only_pending[0]["arguments"] == PROPOSED and only_pending[0]["agent"] == "support"


def test_list_filters_by_agent_and_tool(refund_request, waiting_run, client_for, approver, tenant):
    billing = AgentFactory(tenant=tenant, slug="billing")
    refund_request()
    theirs = refund_request(run=waiting_run(agent=billing))
    client = client_for(approver)

    by_agent = client.get("/api/v1/approvals/?agent=billing").json()["results"]
    by_tool = client.get("/api/v1/approvals/?tool=crm.delete_customer").json()["results"]

    assert [r["id"] for r in by_agent] == [theirs.pk]
    assert by_tool == []


def test_list_leaves_out_requests_of_groups_the_user_is_not_in(refund_request, client_for, approver, group_with,
                                                               second_approver):
    finance = group_with("finance", second_approver)
    refund_request(approver_group_id=finance.pk)

    assert client_for(approver).get("/api/v1/approvals/").json()["results"] == []
    assert len(client_for(second_approver).get("/api/v1/approvals/").json()["results"]) == 1


def test_detail_of_another_tenants_request_is_404(refund_request, client_for, member, other_tenant):
    request = refund_request()
    outsider = member("olga", Role.OWNER, in_tenant=other_tenant)
    client = client_for(outsider, in_tenant=other_tenant)

    detail = client.get(f"/api/v1/approvals/{request.pk}/")
    approve = client.post(approve_url(request), {"seen_hash": request.current_hash}, format="json")

    assert detail.status_code == 404 and detail.json()["error"]["code"] == "not_found"
    assert approve.status_code == 404 and approve.json()["error"]["code"] == "not_found"
    request.refresh_from_db()
    assert request.status == ApprovalStatus.PENDING


def test_approve_decides_and_resumes_the_run(refund_request, client_for, approver):
    request = refund_request()

    response = client_for(approver).post(approve_url(request), {"seen_hash": request.current_hash}, format="json")

    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "approved" and response.json()["decided_by"] == "arthur"
    request.refresh_from_db()
    assert request.run.status == RunStatus.QUEUED


def test_approve_with_edited_arguments(refund_request, client_for, approver):
    request = refund_request()

    response = client_for(approver).post(
        approve_url(request), {"seen_hash": request.current_hash, "arguments": {**PROPOSED, "amount": 75}},
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["approved_arguments"] == {**PROPOSED, "amount": 75}
    assert response.json()["votes"][0]["changes"] == {"amount": [120, 75]}


def test_approve_without_seen_hash_is_invalid(refund_request, client_for, approver):
    response = client_for(approver).post(approve_url(refund_request()), {}, format="json")

    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid"
    assert "seen_hash" in response.json()["error"]["details"]


def test_invalid_edited_arguments_are_400_with_details(refund_request, client_for, approver):
    request = refund_request()

    response = client_for(approver).post(
        approve_url(request), {"seen_hash": request.current_hash, "arguments": {**PROPOSED, "amount": -5}},
        format="json",
    )

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_arguments" and error["details"][0]["path"] == "amount"


def test_reject_without_comment_is_400(refund_request, client_for, approver):
    request = refund_request()

    response = client_for(approver).post(reject_url(request), {"seen_hash": request.current_hash}, format="json")

    assert response.status_code == 400 and response.json()["error"]["code"] == "comment_required"


def test_a_megabyte_comment_is_400_and_the_request_stays_pending(refund_request, client_for, approver):
    request = refund_request()

    response = client_for(approver).post(
        reject_url(request), {"seen_hash": request.current_hash, "comment": "x" * 1_000_000}, format="json"
    )

    assert response.status_code == 400 and "comment" in response.json()["error"]["details"]
    request.refresh_from_db()
    assert request.status == ApprovalStatus.PENDING


def test_reject_with_comment(refund_request, client_for, approver):
    request = refund_request()

    response = client_for(approver).post(
        reject_url(request), {"seen_hash": request.current_hash, "comment": "Fraud suspected."}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["status"] == "rejected" and response.json()["comment"] == "Fraud suspected."


def test_stale_hash_is_409(refund_request, client_for, approver):
    request = refund_request()

    response = client_for(approver).post(approve_url(request), {"seen_hash": "0" * 64}, format="json")

    assert response.status_code == 409 and response.json()["error"]["code"] == "stale"


def test_deciding_a_decided_request_is_409_naming_who_decided(refund_request, client_for, approver, second_approver):
    request = refund_request()
    client_for(second_approver).post(approve_url(request), {"seen_hash": request.current_hash}, format="json")

    response = client_for(approver).post(approve_url(request), {"seen_hash": request.current_hash}, format="json")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "already_decided" and "bella" in response.json()["error"]["message"]


def test_self_approval_is_403(refund_request, waiting_run, client_for, approver):
    request = refund_request(run=waiting_run(on_behalf_of=approver))

    response = client_for(approver).post(approve_url(request), {"seen_hash": request.current_hash}, format="json")

    assert response.status_code == 403 and response.json()["error"]["code"] == "self_approval"


@pytest.mark.parametrize("role, scopes", [(Role.VIEWER, ("read", "approvals:write")), (Role.APPROVER, ("read",))])
def test_missing_permission_or_scope_is_403_not_allowed(refund_request, client_for, member, role, scopes):
    request = refund_request()
    user = member("val", role)

    response = client_for(user, scopes=scopes).post(approve_url(request), {"seen_hash": request.current_hash},
                                                     format="json")

    assert response.status_code == 403 and response.json()["error"]["code"] == "not_allowed"
    request.refresh_from_db()
    assert request.status == ApprovalStatus.PENDING


def test_the_openapi_schema_documents_seen_hash_on_decisions(client):
    schema = client.get("/api/schema/?format=json").json()

    approve = schema["paths"]["/api/v1/approvals/{id}/approve/"]["post"]
    body = approve["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert "seen_hash" in schema["components"]["schemas"][body]["required"]
    assert {"400", "403", "404", "409"} <= set(approve["responses"])
