"""memory.*: save, read, page, change, search, delete and forget long-term memory items through
the SDK, against the live server; another tenant sees none of them."""

import pytest
from agentops_client import MemoryItem, NotFoundError, PermissionDeniedError

from agentops.memory.models import MemoryItem as MemoryRow
from agentops.tenancy.roles import Role

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def memory(sdk, operator, tenant, api_key_for):
    """The memory resource with the key of `olivia`, an operator who may write memory."""
    return sdk(key=api_key_for(operator, tenant, scopes=("read", "memory:write"))).memory


def test_an_item_is_saved_read_changed_and_deleted(memory):
    saved = memory.create(scope="user", subject="olivia", kind="preference", content="Prefers email to phone calls",
                          metadata={"source": "crm"})
    changed = memory.update(saved.id, content="Prefers email, never phone calls")
    deleted = memory.delete(saved.id)

    assert isinstance(saved, MemoryItem) and saved.created_by == "olivia" and saved.metadata == {"source": "crm"}
    assert changed.id == saved.id and changed.content == "Prefers email, never phone calls"
    assert deleted is None and not MemoryRow.objects.filter(pk=saved.id).exists()
    with pytest.raises(NotFoundError):
        memory.get(saved.id)


def test_the_list_follows_every_page_and_filters(memory):
    ids = [memory.create(scope="tenant", content=f"Warehouse {name} ships on weekdays").id
           for name in ("north", "south", "east")]
    memory.create(scope="agent", subject="support", content="Answer in the customer's language")

    assert [item.id for item in memory.list(scope="tenant", limit=2)] == ids[::-1]
    assert [item.subject for item in memory.list(scope="agent")] == ["support"]


def test_search_ranks_the_item_that_answers_first(memory):
    memory.create(scope="tenant", content="Refunds over 500 dollars need a manager")
    memory.create(scope="tenant", content="The office is closed on public holidays")

    results = memory.search("who approves large refunds", limit=2)

    assert "Refunds over 500" in results[0].content and results[0].score > 0


def test_another_users_items_are_not_the_operators_to_write(memory):
    with pytest.raises(PermissionDeniedError) as refused:
        memory.create(scope="user", subject="someone-else", content="Likes tea")

    assert refused.value.code == "not_allowed" and not MemoryRow.objects.exists()


def test_an_owner_forgets_a_user_and_another_tenant_sees_nothing(sdk, memory, member, tenant, other_tenant,
                                                                 api_key_for):
    memory.create(scope="user", subject="olivia", content="Lives in Lisbon")
    owner = sdk(key=api_key_for(member("otto", Role.OWNER), tenant, scopes=("read", "memory:write"))).memory
    stranger = sdk(key=api_key_for(member("sten", in_tenant=other_tenant), other_tenant)).memory

    assert list(stranger.list()) == [] and stranger.search("Lisbon") == []
    counts = owner.forget(user="olivia")

    assert counts["memory_items"] == 1 and list(memory.list()) == []
