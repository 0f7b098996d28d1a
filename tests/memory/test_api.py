"""/api/v1/memory/: what a member and an owner may see and do, and every refusal as the JSON envelope."""

import pytest

from agentops.memory.models import MemoryItem
from agentops.memory.services import memory_save
from agentops.tenancy.roles import Role
from rest_framework.test import APIClient

WRITE = ("read", "memory:write")


@pytest.fixture
def client_as(tenant, member, api_key_for):
    """client_as("alice", Role.OPERATOR) → an API client with a key of that member."""

    def make(username: str, role: str = Role.OPERATOR, scopes=WRITE, in_tenant=None):
        user = member(username, role, in_tenant=in_tenant)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_for(user, in_tenant or tenant, scopes=scopes)}")
        return client

    return make


def save(tenant, content, scope="user", subject="alice", kind="fact"):
    return memory_save(tenant=tenant, scope=scope, subject=subject, kind=kind, content=content)


def error_of(response, status: int) -> dict:
    assert response.status_code == status, response.content
    return response.json()["error"]


def test_create_then_search_finds_it_best_first(client_as):
    alice = client_as("alice")
    created = alice.post("/api/v1/memory/", {"scope": "user", "subject": "alice", "kind": "preference",
                                             "content": "Prefers vegetarian restaurants near the office."},
                         format="json")
    alice.post("/api/v1/memory/", {"scope": "tenant", "content": "The office is in Lyon."}, format="json")

    found = alice.get("/api/v1/memory/search/", {"q": "which restaurant would she prefer?", "limit": 2}).json()

    assert created.status_code == 201
    assert found["results"][0]["id"] == created.json()["id"]
    assert set(found["results"][0]) >= {"id", "content", "kind", "scope", "subject", "metadata", "score",
                                        "created_at", "updated_at"}


def test_a_member_sees_own_user_items_and_shared_ones_but_not_other_users(tenant, client_as):
    mine = save(tenant, "Alice likes tea.")
    shared = save(tenant, "Support answers in French.", scope="agent", subject="support")
    bobs = save(tenant, "Bob likes tea.", subject="bob")
    alice = client_as("alice")

    listed = {item["id"] for item in alice.get("/api/v1/memory/").json()["results"]}
    searched = {item["id"] for item in alice.get("/api/v1/memory/search/", {"q": "tea"}).json()["results"]}

    assert listed == {mine.pk, shared.pk}
    assert searched == {mine.pk}
    assert error_of(alice.get(f"/api/v1/memory/{bobs.pk}/"), 404)["code"] == "not_found"
    assert error_of(alice.delete(f"/api/v1/memory/{bobs.pk}/"), 404)["code"] == "not_found"
    assert error_of(alice.post("/api/v1/memory/", {"scope": "user", "subject": "bob", "content": "x"},
                               format="json"), 403)["code"] == "not_allowed"


def test_an_owner_sees_every_users_items_and_filters_them(tenant, client_as):
    save(tenant, "Alice likes tea.")
    bobs = save(tenant, "Bob likes tea.", subject="bob")
    owner = client_as("oona", Role.OWNER)

    listed = owner.get("/api/v1/memory/", {"scope": "user", "subject": "bob"}).json()["results"]

    assert [item["id"] for item in listed] == [bobs.pk]


def test_another_tenant_sees_nothing(tenant, other_tenant, client_as):
    item = save(tenant, "Alice likes tea.")
    stranger = client_as("oona", Role.OWNER, in_tenant=other_tenant)

    assert stranger.get("/api/v1/memory/").json()["results"] == []
    assert stranger.get("/api/v1/memory/search/", {"q": "tea"}).json()["results"] == []
    assert error_of(stranger.get(f"/api/v1/memory/{item.pk}/"), 404)["code"] == "not_found"


def test_the_list_pages_by_cursor(tenant, client_as):
    for n in range(5):
        save(tenant, f"Fact number {n} about topic {n * 7}.")
    alice = client_as("alice")

    first = alice.get("/api/v1/memory/", {"limit": 2}).json()
    second = alice.get(first["next"]).json()

    assert len(first["results"]) == len(second["results"]) == 2
    assert not {i["id"] for i in first["results"]} & {i["id"] for i in second["results"]}


def test_patch_and_delete_change_the_item(tenant, client_as):
    item = save(tenant, "Alice lives in Lyon.")
    alice = client_as("alice")

    changed = alice.patch(f"/api/v1/memory/{item.pk}/", {"content": "Alice lives in Paris."}, format="json")
    deleted = alice.delete(f"/api/v1/memory/{item.pk}/")

    assert changed.json()["content"] == "Alice lives in Paris."
    assert deleted.status_code == 204 and not MemoryItem.objects.exists()


def test_bulk_saves_all_in_one_go(client_as):
    alice = client_as("alice")
    items = [{"scope": "user", "subject": "alice", "content": f"Book {n} is on shelf {n}."} for n in range(30)]

    response = alice.post("/api/v1/memory/bulk/", {"items": items}, format="json")

    assert response.status_code == 201 and len(response.json()["results"]) == 30
    assert MemoryItem.objects.count() == 30


def test_bulk_refuses_all_when_one_item_is_invalid_and_names_its_index(client_as, settings):
    alice = client_as("alice")
    items = [{"scope": "user", "subject": "alice", "content": "Fine."},
             {"scope": "user", "subject": "alice", "content": "x" * (settings.AGENTOPS_MEMORY_MAX_CONTENT_CHARS + 1)}]

    error = error_of(alice.post("/api/v1/memory/bulk/", {"items": items}, format="json"), 400)

    assert error["code"] == "too_large" and error["details"]["index"] == 1 and "item 1" in error["message"]
    assert not MemoryItem.objects.exists()


def test_bulk_refuses_more_than_a_thousand_items(client_as):
    items = [{"scope": "tenant", "content": f"Item {n}."} for n in range(1001)]

    error = error_of(client_as("alice").post("/api/v1/memory/bulk/", {"items": items}, format="json"), 400)

    assert error["code"] == "invalid" and "items" in error["details"]
    assert not MemoryItem.objects.exists()


def test_a_bad_field_in_a_bulk_item_names_its_index(client_as):
    items = [{"scope": "tenant", "content": "Fine."}, {"scope": "team", "content": "No such scope."}]

    error = error_of(client_as("alice").post("/api/v1/memory/bulk/", {"items": items}, format="json"), 400)

    assert error["details"]["index"] == 1 and "scope" in error["details"]["errors"]


@pytest.mark.parametrize("body, code", [
    ({"scope": "team", "content": "x"}, "invalid"),
    ({"scope": "tenant", "subject": "alice", "content": "x"}, "invalid_subject"),
    ({"scope": "tenant", "content": "x" * 4001}, "too_large"),
    ({"scope": "tenant", "content": "x", "colour": "red"}, "unknown_field"),
])
def test_bad_items_are_refused_as_json(client_as, body, code):
    assert error_of(client_as("alice").post("/api/v1/memory/", body, format="json"), 400)["code"] == code


def test_unknown_query_parameters_are_refused(client_as):
    alice = client_as("alice")

    assert error_of(alice.get("/api/v1/memory/", {"colour": "red"}), 400)["code"] == "unknown_parameter"
    assert error_of(alice.get("/api/v1/memory/search/", {"q": "x", "colour": "red"}), 400)["code"] == "unknown_parameter"


def test_writing_needs_the_memory_write_scope(client_as):
    reader = client_as("alice", scopes=("read",))

    response = reader.post("/api/v1/memory/", {"scope": "tenant", "content": "x"}, format="json")

    assert error_of(response, 403)["code"] == "permission_denied"


def test_only_an_owner_forgets_and_gets_the_counts(tenant, client_as):
    save(tenant, "Alice likes tea.")

    refused = client_as("olivia").post("/api/v1/memory/forget/", {"scope": "user", "subject": "alice"}, format="json")
    done = client_as("oona", Role.OWNER).post("/api/v1/memory/forget/", {"scope": "user", "subject": "alice"},
                                              format="json")

    assert error_of(refused, 403)["code"] == "permission_denied"
    assert done.status_code == 200 and done.json()["memory_items"] == 1
    assert not MemoryItem.objects.exists()


def test_forget_needs_a_user_or_a_thread(client_as):
    owner = client_as("oona", Role.OWNER)

    assert error_of(owner.post("/api/v1/memory/forget/", {"scope": "user"}, format="json"), 400)["code"] == "invalid"
