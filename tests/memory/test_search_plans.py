"""The full-text search's plans (agentops/memory/search.py): on SQLite, top-k pruning by the rare
terms, the common terms left out of the scoring, the named subjects' items driving; each must
give bm25()'s ranking over every item that holds a query term, on whichever database the suite
runs on."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from agentops.memory import search
from agentops.memory.models import MemoryItem
from agentops.memory.search import Filters, _where, lexical_ranked
from agentops.memory.text import content_hash

pytestmark = pytest.mark.django_db

# The ranking without any plan: every holder of a term scored, as before the plans.
PLAIN = {
    "sqlite": """SELECT m.id, -bm25(memory_memoryitem_search) FROM memory_memoryitem_search
                 JOIN memory_memoryitem m ON m.id = memory_memoryitem_search.rowid
                 WHERE memory_memoryitem_search MATCH %s AND {where}
                 ORDER BY bm25(memory_memoryitem_search) LIMIT %s""",
    "postgresql": """SELECT m.id, ts_rank(m.search_vector, q, 1) AS score
                     FROM memory_memoryitem m, to_tsquery('english'::regconfig, %s) q
                     WHERE m.search_vector @@ q AND {where} ORDER BY score DESC, m.id DESC LIMIT %s""",
}


def plain_ranking(terms, filters, limit):
    where, params = _where(filters, connection.vendor)
    match = " | ".join(terms) if connection.vendor == "postgresql" else " OR ".join(f'"{t}"' for t in terms)
    with connection.cursor() as cursor:
        cursor.execute(PLAIN[connection.vendor].format(where=where), [match, *params, limit])
        return [(pk, float(score)) for pk, score in cursor.fetchall()]


def fill(tenant, count, words, subjects=("alice", "bob", "carol")):
    """`count` items; item n holds each word w of `words` (word → every how many items) when n % w == 0."""
    texts = [" ".join([f"filler{n}"] + [word for word, every in words.items() if n % every == 0] + [f"tail{n % 7}"])
             for n in range(count)]
    return MemoryItem.objects.bulk_create([
        MemoryItem(tenant=tenant, scope="user", subject=subjects[n % len(subjects)], content=text,
                   content_hash=content_hash(text)) for n, text in enumerate(texts)])


def filters_for(tenant, scopes=None):
    return Filters(tenant_id=tenant.pk, now=timezone.now(), scopes=scopes)


def ids(ranking):
    return [pk for pk, _ in ranking]


def pruned_statements(queries):
    return [q["sql"] for q in queries if "+rowid IN" in q["sql"]]


@pytest.fixture
def many(monkeypatch):
    """MANY at a test's scale: the plans for large sets run on a hundred items."""
    monkeypatch.setattr(search, "MANY", 10)
    return 10


def analyze():
    """PostgreSQL: the statistics the plan reads terms' holder counts from."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE memory_memoryitem")


def test_an_item_with_the_rare_term_comes_first_and_the_pruned_ranking_is_the_plain_one(tenant, monkeypatch):
    monkeypatch.setattr(search, "MANY", 30)  # zebra's 8 holders are rare, apple's 40 are not common
    fill(tenant, 120, {"zebra": 17, "apple": 3})
    filters = filters_for(tenant)

    with CaptureQueriesContext(connection) as queries:
        ranked = lexical_ranked(["apple", "zebra"], filters, 4)

    assert "zebra" in MemoryItem.objects.get(pk=ranked[0][0]).content
    assert ids(ranked) == ids(plain_ranking(["apple", "zebra"], filters, 4))
    assert [round(s, 9) for _, s in ranked] == [round(s, 9) for _, s in plain_ranking(["apple", "zebra"], filters, 4)]
    if connection.vendor == "sqlite":  # only the zebra items were ranked: "apple" alone cannot reach the top 4
        assert pruned_statements(queries.captured_queries)


def test_when_the_rare_term_leaves_places_free_the_other_terms_fill_them(tenant, monkeypatch):
    monkeypatch.setattr(search, "MANY", 21)  # 22 holders in all: too many to rank without a plan; apple's 20 are not
    fill(tenant, 60, {"zebra": 30, "apple": 3})
    filters = filters_for(tenant)

    ranked = lexical_ranked(["zebra", "apple"], filters, 10)

    assert len(ranked) == 10
    assert ids(ranked) == ids(plain_ranking(["zebra", "apple"], filters, 10))


def test_a_term_in_most_items_changes_no_order_beyond_its_share_and_fills_free_places(tenant, many):
    items = fill(tenant, 90, {"common": 1, "zebra": 10, "apple": 4})
    analyze()
    filters = filters_for(tenant)

    ranked = lexical_ranked(["common", "zebra", "apple"], filters, 5)
    only_common = lexical_ranked(["common"], filters, 5)

    reference = plain_ranking(["common", "zebra", "apple"], filters, 5)
    assert [round(s, 4) for _, s in ranked] == [round(s, 4) for _, s in reference]
    assert len(only_common) == 5 and set(ids(only_common)) <= {item.pk for item in items[-many:]}


@pytest.mark.parametrize("scopes", [[("user", "alice")], [("user", "alice"), ("user", "bob")],
                                    [("user", None)], [("user", "alice"), ("agent", None)]])
def test_a_scoped_search_ranks_as_the_tenant_wide_one_filtered(tenant, scopes, monkeypatch):
    monkeypatch.setattr(search, "MANY", 60)  # alice's 50 items are few, the tenant's 150 are not
    items = {item.pk: item for item in fill(tenant, 150, {"zebra": 7, "apple": 2, "pear": 11})}
    terms = ["zebra", "apple", "pear"]

    scoped = lexical_ranked(terms, filters_for(tenant, scopes), 6)
    everything = plain_ranking(terms, filters_for(tenant), 150)

    def visible(pk):
        return any(items[pk].scope == s and subject in (None, items[pk].subject) for s, subject in scopes)

    assert ids(scoped) == [pk for pk in ids(everything) if visible(pk)][:6]
    assert ids(scoped) == ids(plain_ranking(terms, filters_for(tenant, scopes), 6))


def test_places_only_common_terms_could_take_go_to_their_newest_holders(tenant, many):
    items = fill(tenant, 120, {"zebra": 17, "apple": 3})
    analyze()
    filters = filters_for(tenant)

    ranked = lexical_ranked(["zebra", "apple"], filters, 20)

    zebras = [item.pk for item in items if "zebra" in item.content]
    newest_apples = sorted((item.pk for item in items if "apple" in item.content), reverse=True)[:many]
    candidates = set(zebras) | set(newest_apples)
    assert set(ids(ranked)) == candidates  # 7 zebras and 10 apples: fewer than the 20 asked for
    assert ids(ranked) == [pk for pk in ids(plain_ranking(["zebra", "apple"], filters, 120)) if pk in candidates][:20]


def test_another_tenant_sees_nothing_on_any_plan(tenant, other_tenant, many):
    fill(tenant, 120, {"zebra": 17, "apple": 3, "common": 1})
    analyze()

    for scopes in (None, [("user", "alice")], [("user", "alice"), ("agent", None)]):
        for terms in (["apple", "zebra"], ["common"], ["common", "zebra", "apple"]):
            assert lexical_ranked(terms, filters_for(other_tenant, scopes), 10) == []


def test_a_scoped_search_with_a_kind_ranks_only_that_kind(tenant, monkeypatch):
    monkeypatch.setattr(search, "MANY", 60)  # alice's 50 items are few: they are the candidates
    items = fill(tenant, 150, {"zebra": 7, "apple": 2})
    MemoryItem.objects.filter(pk__in=[item.pk for item in items[::2]]).update(kind="preference")
    filters = Filters(tenant_id=tenant.pk, now=timezone.now(), scopes=[("user", "alice")], kind="preference")

    ranked = lexical_ranked(["zebra", "apple"], filters, 6)

    assert ranked and {item.kind for item in MemoryItem.objects.filter(pk__in=ids(ranked))} == {"preference"}
    assert ids(ranked) == ids(plain_ranking(["zebra", "apple"], filters, 6))
