"""Vector search beside full-text, against a real local OpenAI-compatible embeddings server: items
are embedded after commit (the task) or by the backfill, and the fused ranking finds what the
stemmer misses; without the server, full-text still answers."""

import pytest
from django.db import connection

from agentops.memory.embeddings import memory_embed_pending, unpack
from agentops.memory.models import EmbeddingState, MemoryItem
from agentops.memory.search import has_vector_column
from agentops.memory.selectors import memory_search
from agentops.memory.services import memory_save
from tests.support.openai_server import EMBEDDING_DIMENSIONS, OpenAIServer


@pytest.fixture
def embeddings(settings):
    with OpenAIServer() as server:
        settings.AGENTOPS_EMBEDDINGS_MODEL = "test-embed"
        settings.AGENTOPS_EMBEDDINGS_BASE_URL = server.base_url
        settings.AGENTOPS_EMBEDDINGS_API_KEY = "test"
        yield server


def save(tenant, content):
    return memory_save(tenant=tenant, scope="user", subject="alice", kind="fact", content=content)


def test_saved_items_are_embedded_after_commit(tenant, embeddings, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        item = save(tenant, "Alice is allergic to peanuts.")

    # The task is queued; the backfill does the same work here, in this process.
    assert memory_embed_pending() == 1
    item.refresh_from_db()
    assert item.embedding_state == EmbeddingState.READY and item.embedding_model == "test-embed"
    assert len(unpack(item.embedding)) == EMBEDDING_DIMENSIONS
    assert [r.path for r in embeddings.requests] == ["/v1/embeddings"]


def test_the_hybrid_search_finds_what_the_stemmer_misses(tenant, embeddings):
    if connection.vendor == "postgresql" and not has_vector_column(connection):
        pytest.skip("PostgreSQL without pgvector: memory search is full-text only")
    relevant = save(tenant, "Alice is allergic to peanuts.")
    save(tenant, "Alice's cat is named Pixel.")
    save(tenant, "Alice prefers window seats.")
    memory_embed_pending()

    results = memory_search(tenant=tenant, query="allergies", scopes=[("user", "alice")])

    assert results and results[0].item == relevant


def test_without_the_embeddings_server_the_search_is_full_text_only(tenant, settings):
    relevant = save(tenant, "Alice is allergic to peanuts.")
    settings.AGENTOPS_EMBEDDINGS_MODEL = "test-embed"
    settings.AGENTOPS_EMBEDDINGS_BASE_URL = "http://127.0.0.1:9/v1"  # nothing listens

    assert memory_search(tenant=tenant, query="allergies") == []
    assert memory_search(tenant=tenant, query="allergic peanuts")[0].item == relevant
    assert MemoryItem.objects.get().embedding_state == EmbeddingState.PENDING


def test_changed_content_is_embedded_again(tenant, embeddings):
    item = save(tenant, "Alice lives in Lyon.")
    memory_embed_pending()
    before = MemoryItem.objects.get().embedding

    save(tenant, "alice lives in lyon!")  # the same words: merged, content changed
    assert MemoryItem.objects.get(pk=item.pk).embedding_state == EmbeddingState.PENDING
    memory_embed_pending()

    assert MemoryItem.objects.get(pk=item.pk).embedding_state == EmbeddingState.READY
    assert MemoryItem.objects.get(pk=item.pk).embedding is not None and before is not None
