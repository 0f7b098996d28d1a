"""Memory benchmark: retrieval quality and speed of agentops.memory, on SQLite and PostgreSQL.

Quality: a labelled 3,000-turn, 40-session conversation (bench/memory_data.py), every turn saved
as a memory item through `memory_save_bulk`; each question's recall@5 and @10 for our search
(full-text: stemmed, stop words dropped, BM25 / ts_rank) against a plain `rank-bm25` BM25Okapi
over the same items (lower-cased whitespace tokens), and, with `--embeddings`, the hybrid search
(our full-text fused with vectors from the local OpenAI-compatible test server) and the vectors
alone. Speed: bulk ingest (items/s, through the service: dedupe, audit, full-text index), then
search p50/p95 with `--items` (default 100,000) items in one tenant; the items past the ingested
ones are inserted straight into the table to save time (the index triggers still run).

    .venv/bin/python bench/memory.py                      # SQLite, then PostgreSQL when --pg-url / BENCH_PG_URL
    .venv/bin/python bench/memory.py --db sqlite --embeddings --items 20000

The 1-minute load average is printed beside every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.db import FreshDatabase, pg_template, pg_url_for, sqlite_template  # noqa: E402
from bench.env import ROOT, django_setup  # noqa: E402
from bench.memory_data import conversation, random_items, random_queries  # noqa: E402

INGEST_BATCH = 1000
SEARCHES = 300


def load() -> str:
    return f"load {os.getloadavg()[0]:.2f}"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def recall(ranked_turns: list[list[int]], questions, k: int) -> float:
    hits = sum(1 for ranked, question in zip(ranked_turns, questions) if question.answers & set(ranked[:k]))
    return hits / len(questions)


def vectors_available() -> bool:
    from django.db import connection

    from agentops.memory.search import has_vector_column

    return connection.vendor != "postgresql" or has_vector_column(connection)


def quality(tenant, embeddings: bool, vector_weights: list[float]) -> dict:
    from rank_bm25 import BM25Okapi

    from agentops.memory.embeddings import memory_embed_pending
    from agentops.memory.selectors import memory_search
    from agentops.memory.services import memory_save_bulk
    from django.conf import settings

    turns, questions = conversation()
    items = memory_save_bulk(tenant=tenant, items=[
        {"scope": "user", "subject": "alice", "kind": "episode", "content": turn.text} for turn in turns])
    merged: dict[int, list[int]] = {}  # item → its turns: a merged turn is found through the item it joined
    for turn, item in zip(turns, items):
        merged.setdefault(item.pk, []).append(turn.index)

    def as_turns(item_ids):
        return [turn for pk in item_ids for turn in merged[pk]]

    figures = {"turns": len(turns), "items": len(merged), "questions": len(questions)}
    bm25 = BM25Okapi([turn.text.lower().split() for turn in turns])
    plain = [sorted(range(len(turns)), key=lambda i, s=bm25.get_scores(q.text.lower().split()): -s[i])[:10]
             for q in questions]
    figures["rank-bm25"] = {f"recall@{k}": recall(plain, questions, k) for k in (5, 10)}

    def ours(label: str):
        started = time.perf_counter()
        ranked = [as_turns([r.item.pk for r in memory_search(tenant=tenant, query=q.text, scopes=[("user", "alice")],
                                                              limit=10)]) for q in questions]
        figures[label] = {**{f"recall@{k}": recall(ranked, questions, k) for k in (5, 10)},
                          "ms_per_search": 1000 * (time.perf_counter() - started) / len(questions)}

    ours("ours: full-text")
    if embeddings and not vectors_available():
        figures["vectors"] = "unavailable: PostgreSQL without pgvector"
    elif embeddings:
        from tests.support.openai_server import OpenAIServer

        with OpenAIServer() as server:
            settings.AGENTOPS_EMBEDDINGS_MODEL = "bench-trigram-hash"
            settings.AGENTOPS_EMBEDDINGS_BASE_URL = server.base_url
            settings.AGENTOPS_EMBEDDINGS_API_KEY = "bench"
            memory_embed_pending()
            for weight in vector_weights:
                settings.AGENTOPS_MEMORY_VECTOR_WEIGHT = weight
                ours(f"ours: hybrid (lexical {settings.AGENTOPS_MEMORY_LEXICAL_WEIGHT:g}, vector {weight:g}, "
                     f"k {settings.AGENTOPS_MEMORY_RRF_K})")
            settings.AGENTOPS_MEMORY_VECTOR_WEIGHT = 1.0
            lexical = settings.AGENTOPS_MEMORY_LEXICAL_WEIGHT
            settings.AGENTOPS_MEMORY_LEXICAL_WEIGHT = 0.0
            ours("ours: vectors only")
            settings.AGENTOPS_MEMORY_LEXICAL_WEIGHT = lexical
            settings.AGENTOPS_EMBEDDINGS_MODEL = ""
    figures["load"] = load()
    return figures


def speed(tenant, total: int, ingest: int) -> dict:
    from django.db import connection, transaction

    from agentops.memory.models import MemoryItem
    from agentops.memory.selectors import memory_search
    from agentops.memory.services import memory_save_bulk
    from agentops.memory.text import content_hash

    texts = random_items(total)
    started = time.perf_counter()
    for start in range(0, ingest, INGEST_BATCH):
        memory_save_bulk(tenant=tenant, items=[{"scope": "user", "subject": f"user{n % 50}", "kind": "fact",
                                                "content": text} for n, text in
                                               enumerate(texts[start:min(start + INGEST_BATCH, ingest)], start)])
    ingest_seconds = time.perf_counter() - started
    ingest_load = load()
    with transaction.atomic():
        for start in range(ingest, total, 5000):
            MemoryItem.objects.bulk_create([
                MemoryItem(tenant=tenant, scope="user", subject=f"user{n % 50}", kind="fact", content=text,
                           content_hash=content_hash(text))
                for n, text in enumerate(texts[start:start + 5000], start)], batch_size=1000)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE memory_memoryitem")
    queries = random_queries(SEARCHES)
    figures = {"items": MemoryItem.objects.filter(tenant=tenant).count(),
               "ingest": {"items": ingest, "items_per_s": ingest / ingest_seconds, "load": ingest_load}}
    for label, scopes in (("tenant-wide", None), ("one user", [("user", "user7")])):
        timings = []
        for query in queries:
            began = time.perf_counter()
            memory_search(tenant=tenant, query=query, scopes=scopes, limit=10)
            timings.append(1000 * (time.perf_counter() - began))
        figures[f"search {label}"] = {"p50_ms": statistics.median(timings), "p95_ms": percentile(timings, 0.95),
                                      "load": load()}
    return figures


def run_one(database_url: str, *, items: int, ingest: int, embeddings: bool, vector_weights: list[float]) -> dict:
    django_setup(database_url)
    from django.db import connection

    from agentops.tenancy.models import Tenant

    figures = {"database": connection.vendor}
    if connection.vendor == "sqlite":
        figures["vector functions"] = connection.vector_functions if hasattr(connection, "vector_functions") else ""
    figures["quality"] = quality(Tenant.objects.create(slug="quality", name="Quality"), embeddings, vector_weights)
    figures["speed"] = speed(Tenant.objects.create(slug="speed", name="Speed"), items, ingest)
    return figures


def child(db: str, args) -> dict:
    """One database's figures, measured in a process of its own (Django settles on one database)."""
    template = sqlite_template() if db == "sqlite" else pg_url_for(args.pg_url, pg_template(args.pg_url))
    database = FreshDatabase(template, "memory")
    try:
        command = [sys.executable, __file__, "--child", database.url, "--items", str(args.items),
                   "--ingest", str(args.ingest), "--vector-weights", args.vector_weights] + (
                      ["--embeddings"] if args.embeddings else [])
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"the {db} measurement failed:\n{done.stderr[-3000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        database.drop()


def report(figures: dict) -> None:
    quality, speed = figures["quality"], figures["speed"]
    print(f"\n== {figures['database']} ==")
    print(f"quality: {quality['turns']} turns → {quality['items']} items, {quality['questions']} questions ({quality['load']})"
          + (f"; vectors {quality['vectors']}" if "vectors" in quality else ""))
    for name, value in quality.items():
        if isinstance(value, dict):
            per = f"  {value['ms_per_search']:.1f} ms/search" if "ms_per_search" in value else ""
            print(f"  {name:58} recall@5 {value['recall@5']:.3f}  recall@10 {value['recall@10']:.3f}{per}")
    ingest = speed["ingest"]
    print(f"speed: {speed['items']} items in the tenant; bulk ingest of {ingest['items']}: "
          f"{ingest['items_per_s']:.0f} items/s ({ingest['load']})")
    for name, value in speed.items():
        if name.startswith("search"):
            print(f"  {name:20} p50 {value['p50_ms']:.1f} ms  p95 {value['p95_ms']:.1f} ms  ({value['load']})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL", ""))
    parser.add_argument("--items", type=int, default=100_000, help="items in the speed tenant")
    parser.add_argument("--ingest", type=int, default=10_000, help="of which saved through memory_save_bulk")
    parser.add_argument("--embeddings", action="store_true", help="also the hybrid search (local embeddings server)")
    parser.add_argument("--vector-weights", default="1",
                        help="with --embeddings: the vector ranking's fusion weights to try, comma-separated "
                             "(the full-text one stays AGENTOPS_MEMORY_LEXICAL_WEIGHT)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        weights = [float(weight) for weight in args.vector_weights.split(",")]
        print(json.dumps(run_one(args.child, items=args.items, ingest=args.ingest, embeddings=args.embeddings,
                                 vector_weights=weights)))
        return
    databases = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    if "postgres" in databases and not args.pg_url:
        if args.db == "postgres":
            raise SystemExit("PostgreSQL needs --pg-url or BENCH_PG_URL (e.g. from scripts/services.sh)")
        databases.remove("postgres")
    for db in databases:
        report(child(db, args))


if __name__ == "__main__":
    main()
