"""/api/v1/threads/: tenant-scoped, members see their own threads, policies set at creation."""

import pytest
from rest_framework.test import APIClient

from agentops.memory.models import Thread, ThreadConcurrency
from agentops.tenancy.roles import Role
from tests.factories import AgentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def chat_agent(tenant):
    return AgentFactory(tenant=tenant, slug="chat")


def test_a_thread_is_created_with_its_policy(api):
    response = api.post("/api/v1/threads/", {"id": "support-42", "title": "Order question",
                                             "concurrency": "reject"}, format="json")

    assert response.status_code == 201
    assert Thread.objects.get(external_id="support-42").concurrency == ThreadConcurrency.REJECT
    assert response.json()["created_by"] == "olivia"


def test_a_second_thread_with_the_same_id_is_a_409(api):
    api.post("/api/v1/threads/", {"id": "support-42"}, format="json")

    response = api.post("/api/v1/threads/", {"id": "support-42"}, format="json")

    assert response.status_code == 409 and response.json()["error"]["code"] == "thread_exists"


@pytest.mark.parametrize("path", ["customer/42", "customer%2F42"])
def test_a_thread_whose_id_holds_a_slash_is_reachable(api, path):
    api.post("/api/v1/threads/", {"id": "customer/42", "title": "Slashed"}, format="json")

    response = api.get(f"/api/v1/threads/{path}/")

    assert response.status_code == 200 and response.json()["id"] == "customer/42"


def test_an_unknown_policy_is_a_400(api):
    response = api.post("/api/v1/threads/", {"id": "t", "concurrency": "later"}, format="json")

    assert response.status_code == 400 and "concurrency" in response.json()["error"]["details"]


def test_the_detail_lists_the_threads_runs_oldest_first(api, chat_agent):
    ids = [api.post("/api/v1/runs/", {"agent": "chat", "message": m, "thread": "t1"}, format="json").json()["id"]
           for m in ("One", "Two")]

    detail = api.get("/api/v1/threads/t1/").json()

    assert [run["id"] for run in detail["runs"]] == ids
    assert [run["waiting_reason"] for run in detail["runs"]] == ["", "thread"]


def test_another_tenant_sees_nothing(api, other_tenant):
    Thread.objects.create(tenant=other_tenant, external_id="theirs")

    assert api.get("/api/v1/threads/").json()["results"] == []
    assert api.get("/api/v1/threads/theirs/").status_code == 404


def test_members_see_their_own_threads_and_operators_every_one(api, tenant, member, api_key_for):
    viewer = member("vera", Role.VIEWER)
    Thread.objects.create(tenant=tenant, external_id="veras", created_by=viewer)
    Thread.objects.create(tenant=tenant, external_id="someone-elses")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_for(viewer, tenant, ('read',))}")

    assert [t["id"] for t in client.get("/api/v1/threads/").json()["results"]] == ["veras"]
    assert client.get("/api/v1/threads/someone-elses/").status_code == 404
    assert {t["id"] for t in api.get("/api/v1/threads/").json()["results"]} == {"veras", "someone-elses"}


def test_a_viewer_cannot_create_threads(tenant, member, api_key_for):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_for(member('vera', Role.VIEWER), tenant, ('read',))}")

    assert client.post("/api/v1/threads/", {"id": "t"}, format="json").status_code == 403
    assert not Thread.objects.exists()
