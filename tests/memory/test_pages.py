"""/memory/ and the admin: listing, searching, editing and deleting through the same services."""

import pytest

from agentops.audit.models import AuditEvent
from agentops.memory.models import MemoryItem
from agentops.memory.services import memory_save
from agentops.tenancy.roles import Role


def save(tenant, content, scope="user", subject="alice"):
    return memory_save(tenant=tenant, scope=scope, subject=subject, kind="fact", content=content)


@pytest.fixture
def signed_in(client, member):
    def make(username, role=Role.OPERATOR):
        client.force_login(member(username, role))
        return client

    return make


def test_the_page_lists_a_members_own_and_shared_items_only(tenant, signed_in):
    save(tenant, "Alice likes green tea.")
    save(tenant, "Support answers in French.", scope="agent", subject="support")
    save(tenant, "Bob likes black coffee.", subject="bob")

    page = signed_in("alice").get("/memory/").content.decode()

    assert "green tea" in page and "answers in French" in page and "black coffee" not in page
    assert 'href="/memory/"' in page  # in the nav


def test_the_page_searches_best_first_within_the_filters(tenant, signed_in):
    save(tenant, "Alice likes green tea.")
    save(tenant, "Alice plays tennis on Sundays.")
    save(tenant, "Tennis club for the agent.", scope="agent", subject="support")

    page = signed_in("alice").get("/memory/", {"q": "tennis", "scope": "user"}, HTTP_HX_REQUEST="true")

    body = page.content.decode()
    assert "<html" not in body  # HTMX gets the list alone
    assert "plays tennis" in body and "Tennis club" not in body and "green tea" not in body


def test_editing_and_deleting_go_through_the_services(tenant, signed_in):
    item = save(tenant, "Alice lives in Lyon.")
    alice = signed_in("alice")

    alice.post(f"/memory/{item.pk}/edit/", {"kind": "fact", "content": "Alice lives in Paris.", "next": "/memory/"})
    assert MemoryItem.objects.get().content == "Alice lives in Paris."
    alice.post(f"/memory/{item.pk}/delete/", {"next": "/memory/"})

    assert not MemoryItem.objects.exists()
    assert {"memory.changed", "memory.deleted"} <= set(AuditEvent.objects.values_list("action", flat=True))


def test_a_member_cannot_edit_another_users_item(tenant, signed_in):
    bobs = save(tenant, "Bob lives in Nantes.", subject="bob")

    response = signed_in("alice").post(f"/memory/{bobs.pk}/edit/", {"kind": "fact", "content": "Changed."})

    assert response.status_code == 404
    assert MemoryItem.objects.get().content == "Bob lives in Nantes."


def test_an_over_long_edit_is_refused_with_a_message(tenant, signed_in, settings):
    item = save(tenant, "Alice lives in Lyon.")
    alice = signed_in("alice")

    response = alice.post(f"/memory/{item.pk}/edit/", {"kind": "fact", "next": "/memory/",
                                                       "content": "x" * (settings.AGENTOPS_MEMORY_MAX_CONTENT_CHARS + 1)},
                          follow=True)

    assert "content:" in response.content.decode() and MemoryItem.objects.get().content == "Alice lives in Lyon."


def test_the_admin_lists_and_searches_the_tenants_items(tenant, other_tenant, staff):
    save(tenant, "Alice likes green tea.")
    save(other_tenant, "Elsewhere: green tea too.")

    page = staff.get("/admin/memory/memoryitem/", {"q": "green"}).content.decode()

    assert "Alice likes green tea." in page and "Elsewhere" not in page
