"""Saving, deduplicating, searching and purging memory items (services and selectors), on
whichever database the suite runs on."""

import datetime as dt
import io

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from agentops.audit.models import AuditEvent
from agentops.memory.models import MemoryItem
from agentops.memory.selectors import memory_search
from agentops.memory.services import MemoryError, memory_purge_expired, memory_save


def save(tenant, content, scope="user", subject="alice", kind="fact", **extra):
    return memory_save(tenant=tenant, scope=scope, subject=subject, kind=kind, content=content, **extra)


def test_search_ranks_the_relevant_item_first_through_stemming_and_stop_words(tenant):
    save(tenant, "Alice's cat is named Pixel and she adopted it in 2021.")
    relevant = save(tenant, "Alice is allergic to peanuts; avoid recommending peanut dishes.")
    save(tenant, "Alice prefers window seats on long flights.")

    results = memory_search(tenant=tenant, query="Which dishes should we stop recommending?", scopes=[("user", "alice")])

    assert results[0].item == relevant
    assert results[0].score > (results[1].score if len(results) > 1 else 0)


def test_search_sees_only_the_given_scopes_and_the_tenant(tenant, other_tenant):
    save(tenant, "Bob's favourite colour is green.", subject="bob")
    save(other_tenant, "Alice's favourite colour is green.")
    mine = save(tenant, "Alice's favourite colour is green.")

    results = memory_search(tenant=tenant, query="favourite colour", scopes=[("user", "alice")])

    assert [r.item for r in results] == [mine]


def test_search_filters_by_kind_metadata_and_recency(tenant):
    save(tenant, "Ships orders with DHL.", kind="fact", metadata={"topic": "shipping"})
    wanted = save(tenant, "Prefers DHL for orders.", kind="preference", metadata={"topic": "shipping"})
    save(tenant, "Prefers DHL express for orders.", kind="preference", metadata={"topic": "billing"})

    results = memory_search(tenant=tenant, query="DHL orders", kind="preference", metadata={"topic": "shipping"},
                            since=timezone.now() - dt.timedelta(minutes=1))

    assert [r.item for r in results] == [wanted]


def test_an_exact_duplicate_is_merged_and_keeps_the_latest_provenance(tenant, operator):
    first = save(tenant, "Alice lives in Lyon.", metadata={"source": "chat"})
    again = save(tenant, "alice lives in LYON", metadata={"confidence": 0.9}, created_by=operator)

    assert again.pk == first.pk
    item = MemoryItem.objects.get()
    assert item.content == "alice lives in LYON"
    assert item.metadata == {"source": "chat", "confidence": 0.9}
    assert item.created_by == operator
    assert AuditEvent.objects.filter(action="memory.merged").count() == 1


def test_a_near_duplicate_is_merged_and_a_different_fact_is_not(tenant):
    first = save(tenant, "Alice's daughter Emma plays the violin every Saturday morning.")
    near = save(tenant, "Alice's daughter Emma plays the violin every Saturday.")
    other = save(tenant, "Alice's son Louis plays football on Sunday.")

    assert near.pk == first.pk
    assert other.pk != first.pk
    assert MemoryItem.objects.count() == 2


def test_the_same_words_in_another_subject_are_another_item(tenant):
    save(tenant, "Likes jazz.", subject="alice")
    save(tenant, "Likes jazz.", subject="bob")

    assert MemoryItem.objects.count() == 2


@pytest.mark.parametrize("values, code", [
    ({"scope": "team"}, "invalid_scope"),
    ({"scope": "tenant", "subject": "alice"}, "invalid_subject"),
    ({"kind": "rumour"}, "invalid_kind"),
    ({"content": "x" * 4001}, "too_large"),
    ({"metadata": {"blob": "x" * 5000}}, "too_large"),
    ({"metadata": ["not", "an", "object"]}, "invalid_metadata"),
])
def test_invalid_items_are_refused_and_nothing_is_stored(tenant, values, code):
    arguments = {"scope": "user", "subject": "alice", "kind": "fact", "content": "Fine.", **values}

    with pytest.raises(MemoryError) as refused:
        memory_save(tenant=tenant, **arguments)

    assert refused.value.code == code
    assert not MemoryItem.objects.exists()


def test_purge_removes_expired_items_only_and_search_never_returns_them(tenant):
    now = timezone.now()
    save(tenant, "Temporary code is 4417.", expires_at=now - dt.timedelta(seconds=1))
    kept_later = save(tenant, "Temporary badge is 9921.", expires_at=now + dt.timedelta(days=1))
    kept = save(tenant, "Permanent badge is 1234.")

    assert [r.item for r in memory_search(tenant=tenant, query="temporary code")] == [kept_later]
    assert memory_purge_expired() == 1

    assert set(MemoryItem.objects.all()) == {kept_later, kept}
    assert AuditEvent.objects.get(action="memory.purged").data == {"items": 1}


def test_audit_events_never_hold_the_words(tenant):
    save(tenant, "The secret word is marmalade.")

    event = AuditEvent.objects.get(action="memory.saved")
    assert "marmalade" not in str([event.data, event.target_label, event.changes])


def test_the_purge_command_reports_what_it_deleted(tenant):
    save(tenant, "Gone soon.", expires_at=timezone.now() - dt.timedelta(minutes=1))
    out = io.StringIO()

    call_command("memory", "purge", stdout=out)

    assert out.getvalue().strip() == "1 expired memory items deleted." and not MemoryItem.objects.exists()


def test_the_embed_command_needs_a_model(settings):
    settings.AGENTOPS_EMBEDDINGS_MODEL = ""

    with pytest.raises(CommandError, match="AGENTOPS_EMBEDDINGS_MODEL"):
        call_command("memory", "embed")
