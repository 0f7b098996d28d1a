"""The verbs that change memory items; each is one transaction and records an audit event.

Audit events name the item, its scope and subject, never its words: the log is append-only, and
forgetting a user must leave none of what they said.
"""

from __future__ import annotations

import datetime as dt
import json

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from agentops.audit.services import Actor, audit_record
from agentops.errors import CodedError
from agentops.taskqueue import enqueue
from agentops.tenancy.models import Tenant

from .forgetting import forgetters
from .models import EmbeddingState, MemoryItem, MemoryKind, MemoryScope
from .search import Filters, lexical_ranked
from .text import content_hash, jaccard, query_terms

# A save compares with the best few full-text matches holding its few longest words: an item that
# shares 80% of the words almost always has those, and asking for all of them keeps the match set
# (and so the cost of ranking it) small however many items the subject has.
NEAR_DUPLICATE_CANDIDATES = 5
NEAR_DUPLICATE_KEY_WORDS = 3


class MemoryError(CodedError):
    """A refused memory write: `code` says why (invalid_scope, too_large, ...)."""


def memory_validate(*, scope: str, subject: str, kind: str, content: str, metadata: dict | None) -> None:
    """Raises MemoryError when an item with these values may not be stored."""
    if scope not in MemoryScope.values:
        raise MemoryError("invalid_scope", f"scope must be one of {', '.join(MemoryScope.values)}, not {scope!r}.")
    if (scope == MemoryScope.TENANT) != (subject == ""):
        raise MemoryError("invalid_subject", "subject is empty for the tenant scope, and a username or an "
                                             "agent's slug for the user and agent scopes.")
    if kind not in MemoryKind.values:
        raise MemoryError("invalid_kind", f"kind must be one of {', '.join(MemoryKind.values)}, not {kind!r}.")
    if not content.strip():
        raise MemoryError("empty_content", "content is empty.")
    limit = settings.AGENTOPS_MEMORY_MAX_CONTENT_CHARS
    if len(content) > limit:
        raise MemoryError("too_large", f"content has {len(content)} characters; at most {limit} are kept.")
    if metadata is not None and not isinstance(metadata, dict):
        raise MemoryError("invalid_metadata", "metadata must be a JSON object.")
    size, limit = len(json.dumps(metadata or {})), settings.AGENTOPS_MEMORY_MAX_METADATA_BYTES
    if size > limit:
        raise MemoryError("too_large", f"metadata takes {size} bytes of JSON; at most {limit} are kept.")


def _actor(actor, created_by, source_run) -> Actor:
    if actor is not None:
        return actor
    if created_by is not None:
        return Actor.for_user(created_by)
    if source_run is not None:
        return Actor("run", str(source_run), f"run {source_run}")
    return Actor.system("memory")


def memory_save(*, tenant, scope: str, subject: str, kind: str, content: str, metadata: dict | None = None,
                source_run=None, source_step: int | None = None, created_by=None,
                expires_at: dt.datetime | None = None, actor: Actor | None = None) -> MemoryItem:
    """Store one item, or merge it into the item of the same (tenant, scope, subject) that says the
    same thing: the same normalised words (content hash), or nearly the same words (token-set
    Jaccard at least AGENTOPS_MEMORY_DEDUPE_SIMILARITY with one of the best full-text matches).
    A merge takes the new content, kind, expiry and provenance and adds the new metadata keys.
    Raises MemoryError for invalid values. The embedding is computed after commit (tasks.embed)."""
    with transaction.atomic():
        item = _save(tenant=tenant, scope=scope, subject=subject, kind=kind, content=content, metadata=metadata,
                     source_run=source_run, source_step=source_step, created_by=created_by,
                     expires_at=expires_at, actor=actor)
        transaction.on_commit(lambda: _embed_later([item.pk]))
    return item


def memory_save_bulk(*, tenant, items: list[dict], created_by=None, actor: Actor | None = None) -> list[MemoryItem]:
    """memory_save for each of `items` (its keyword arguments but the tenant's), all or none: one
    transaction. A MemoryError names the item's index in `details`."""
    with transaction.atomic():
        saved = []
        for index, values in enumerate(items):
            try:
                saved.append(_save(tenant=tenant, created_by=created_by, actor=actor, **values))
            except MemoryError as error:
                raise MemoryError(error.code, f"item {index}: {error.message}", details={"index": index}) from None
        ids = [item.pk for item in saved]
        transaction.on_commit(lambda: _embed_later(ids))
    return saved


def _save(*, tenant, scope, subject, kind, content, metadata=None, source_run=None, source_step=None,
          created_by=None, expires_at=None, actor=None) -> MemoryItem:
    memory_validate(scope=scope, subject=subject, kind=kind, content=content, metadata=metadata)
    values = {"kind": kind, "content": content, "metadata": metadata or {}, "content_hash": content_hash(content),
              "source_run": source_run, "source_step": source_step, "created_by": created_by,
              "expires_at": expires_at}
    existing = _duplicate_of(tenant, scope, subject, content, values["content_hash"])
    if existing is None:
        item, merged = _insert_or_merge(tenant, scope, subject, values)
    else:
        item, merged = _merge(existing, values), True
    audit_record(tenant=tenant, action="memory.merged" if merged else "memory.saved",
                 actor=_actor(actor, created_by, source_run), target=item,
                 data={"scope": scope, "subject": subject, "kind": kind, "chars": len(content)})
    return item


def _duplicate_of(tenant, scope, subject, content, digest) -> MemoryItem | None:
    """The item this content repeats, locked: the one with its hash, else the first near one."""
    filters = Filters(tenant_id=tenant.pk, now=timezone.now(), scopes=[(scope, subject)])
    key_words = sorted(query_terms(content), key=len, reverse=True)[:NEAR_DUPLICATE_KEY_WORDS]
    near = [pk for pk, _ in lexical_ranked(key_words, filters, NEAR_DUPLICATE_CANDIDATES, every_term=True)]
    candidates = list(MemoryItem.objects.select_for_update().filter(tenant=tenant, scope=scope, subject=subject)
                      .filter(models.Q(content_hash=digest) | models.Q(pk__in=near)))
    exact = [item for item in candidates if item.content_hash == digest]
    if exact:
        return exact[0]
    threshold = settings.AGENTOPS_MEMORY_DEDUPE_SIMILARITY
    return next((item for item in candidates if jaccard(item.content, content) >= threshold), None)


def _insert_or_merge(tenant, scope, subject, values) -> tuple[MemoryItem, bool]:
    try:
        with transaction.atomic():  # a savepoint: a concurrent save of the same words wins the insert
            return MemoryItem.objects.create(tenant=tenant, scope=scope, subject=subject, **values), False
    except IntegrityError:
        existing = MemoryItem.objects.select_for_update().get(
            tenant=tenant, scope=scope, subject=subject, content_hash=values["content_hash"])
        return _merge(existing, values), True


def _merge(item: MemoryItem, values: dict) -> MemoryItem:
    content_changed = item.content != values["content"]
    metadata = {**item.metadata, **values["metadata"]}
    for name, value in values.items():
        setattr(item, name, value)
    item.metadata = metadata
    if content_changed:
        item.embedding_state, item.embedding, item.embedding_model = EmbeddingState.PENDING, None, ""
    item.save()
    return item


def memory_update(*, item: MemoryItem, actor: Actor, **changes) -> MemoryItem:
    """Change an item's content, kind, metadata or expiry (those of `changes`). Raises MemoryError:
    invalid values, or `duplicate` when the new content is another item's of the same subject."""
    with transaction.atomic():
        item = MemoryItem.objects.select_for_update().get(pk=item.pk, tenant=item.tenant)
        before = {name: getattr(item, name) for name in changes}
        merged = {name: changes.get(name, getattr(item, name)) for name in ("kind", "content", "metadata")}
        memory_validate(scope=item.scope, subject=item.subject, **merged)
        if "content" in changes and changes["content"] != item.content:
            item.content_hash = content_hash(changes["content"])
            item.embedding_state, item.embedding, item.embedding_model = EmbeddingState.PENDING, None, ""
        for name, value in changes.items():
            setattr(item, name, value)
        try:
            with transaction.atomic():
                item.save()
        except IntegrityError:
            raise MemoryError("duplicate", "Another item of this subject already says this.") from None
        changed = sorted(name for name in changes if before[name] != changes[name])
        audit_record(tenant=item.tenant, action="memory.changed", actor=actor, target=item, data={"fields": changed})
        transaction.on_commit(lambda: _embed_later([item.pk]))
    return item


def memory_delete(*, item: MemoryItem, actor: Actor) -> None:
    with transaction.atomic():
        audit_record(tenant=item.tenant, action="memory.deleted", actor=actor, target=item,
                     data={"scope": item.scope, "subject": item.subject, "kind": item.kind})
        MemoryItem.objects.filter(pk=item.pk, tenant=item.tenant).delete()


def _embed_later(item_ids: list[int]) -> None:
    if settings.AGENTOPS_EMBEDDINGS_MODEL:
        enqueue("agentops.memory.tasks.embed", item_ids)


def memory_purge_expired(*, now: dt.datetime | None = None) -> int:
    """Delete every tenant's items whose expiry has passed, and only those; one audit event per
    tenant with the count. Returns how many items went."""
    now = now or timezone.now()
    with transaction.atomic():
        expired = MemoryItem.objects.filter(expires_at__lte=now)
        counts = {row["tenant"]: row["n"] for row in
                  expired.values("tenant").annotate(n=models.Count("pk")).order_by("tenant")}
        expired.delete()
        for tenant in Tenant.objects.filter(pk__in=counts).order_by("pk"):
            audit_record(tenant=tenant, action="memory.purged", actor=Actor.system("memory purge"),
                         data={"items": counts[tenant.pk]})
    return sum(counts.values())


def memory_forget(*, tenant, scope: str | None = None, subject: str | None = None, thread: str | None = None,
                  actor: Actor) -> dict:
    """Erase everything about a user (`scope="user"`, `subject=<username>`): their user items and,
    through the registered forgetters (agentops.memory.forgetting), the words of the runs they
    started or that acted for them; or about a thread (`thread=<id>`): its runs' words and the
    items those runs wrote. One transaction; audited with the counts, never the words.
    Returns the counts. Raises MemoryError when neither a user nor a thread is named."""
    if thread is None and (scope != MemoryScope.USER or not subject):
        raise MemoryError("invalid_forget", 'name a user ({"scope": "user", "subject": "<username>"}) or '
                                            'a thread ({"thread": "<id>"}).')
    username = subject if thread is None else None
    with transaction.atomic():
        counts: dict[str, int] = {}
        run_ids: list = []
        for forgetter in forgetters():
            forgotten = forgetter(tenant=tenant, username=username, thread=thread, actor=actor)
            counts.update(forgotten.counts)
            run_ids += forgotten.run_ids
        items = MemoryItem.objects.filter(tenant=tenant, source_run__in=run_ids)
        if username is not None:
            items = items | MemoryItem.objects.filter(tenant=tenant, scope=MemoryScope.USER, subject=username)
        counts["memory_items"] = items.delete()[1].get(MemoryItem._meta.label, 0)
        target = {"user": username} if username is not None else {"thread": thread}
        audit_record(tenant=tenant, action="memory.forgotten", actor=actor, data={**target, **counts})
    return counts
