"""The verbs that change threads; each runs in one transaction (the caller's, for the ones the
run engine calls inside its own)."""

from __future__ import annotations

import uuid

from django.db import IntegrityError, transaction

from agentops.audit.services import Actor, audit_record
from agentops.errors import CodedError

from .models import Thread, ThreadConcurrency


class ThreadError(CodedError):
    """A refused thread change: `code` says why (thread_exists, ...)."""


def thread_create(*, tenant, external_id: str, title: str = "", concurrency: str = ThreadConcurrency.QUEUE,
                  user=None, actor: Actor) -> Thread:
    """A new thread; `thread_exists` when the tenant already has one with this id."""
    try:
        with transaction.atomic():
            thread = Thread.objects.create(tenant=tenant, external_id=external_id, title=title,
                                           concurrency=concurrency, created_by=user)
            audit_record(tenant=tenant, action="thread.created", actor=actor, target=thread,
                         data={"thread": external_id, "concurrency": concurrency})
    except IntegrityError:
        raise ThreadError("thread_exists", f"thread {external_id!r} already exists in this tenant") from None
    return thread


def thread_get_or_create_locked(*, tenant, external_id: str, user=None) -> Thread:
    """The tenant's thread `external_id`, made with the default policy if new, locked until the
    caller's transaction ends (SELECT … FOR UPDATE): its runs start one after another."""
    thread = Thread.objects.select_for_update().filter(tenant=tenant, external_id=external_id).first()
    if thread is not None:
        return thread
    try:
        with transaction.atomic():  # a savepoint: a concurrent first run of the thread may win the insert
            return Thread.objects.create(tenant=tenant, external_id=external_id, created_by=user)
    except IntegrityError:
        return Thread.objects.select_for_update().get(tenant=tenant, external_id=external_id)


def thread_lock(thread_id) -> Thread | None:
    """The thread, locked until the caller's transaction ends."""
    return Thread.objects.select_for_update().filter(pk=thread_id).first()


def thread_prompt_tokens_set(*, thread_id, tokens: int) -> None:
    """Record the prompt tokens the model reported for a run's last main call in the thread."""
    Thread.objects.filter(pk=thread_id).update(last_prompt_tokens=tokens)


def thread_summary_save(*, thread_id, summary: str, through_run: uuid.UUID | str, turns: int) -> None:
    """Keep the model's summary of the thread's turns up to `through_run` (`turns` of them)."""
    Thread.objects.filter(pk=thread_id).update(summary=summary, summary_through_run=through_run,
                                               summary_turns=turns)
