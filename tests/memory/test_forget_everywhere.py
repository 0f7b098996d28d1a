"""Forgetting a user, checked against every table: a run that asked for an approval (rejected with
a comment, arguments and context quoting the user) and sent webhooks leaves none of the user's
words anywhere once the user is forgotten, but in the audit log."""

from django.apps import apps
from django.core import serializers
from django.db import router

from agentops.audit.models import AuditEvent
from agentops.audit.services import Actor
from agentops.memory.services import memory_forget
from agentops.tenancy.models import Membership
from agentops.tenancy.principal import Principal
from agentops.webhooks.models import Webhook
from approvals.models import ApprovalRequest
from approvals.services import approval_decide
from runs.engine import execute_run
from runs.models import Run, RunStatus
from runs.services import run_create
from tests.factories import AgentFactory
from tools.services import tool_create

SECRET = "Quetzalcoatlus"
# The task queue's rows are pickled task arguments (ids only) and outcomes; sessions and the
# admin's log hold no run content.
NOT_OURS = {"django_q", "sessions", "admin", "contenttypes"}


def stored_anywhere(word: str) -> list[str]:
    """Every row of every table of the platform's database whose fields hold `word`."""
    ours = [model for model in apps.get_models()
            if model._meta.app_label not in NOT_OURS and router.db_for_read(model) == "default"]
    return [f"{model._meta.label} {row.pk}" for model in ours
            for row in model._default_manager.all() if word in serializers.serialize("json", [row])]


def principal_of(user, tenant) -> Principal:
    return Principal(tenant=tenant, user=user, membership=Membership.objects.get(user=user, tenant=tenant))


def test_forgetting_a_user_erases_their_words_from_every_table(tenant, member, owner, allow_outbound):
    allow_outbound("127.0.0.1:9")  # nothing listens there: nothing is ever sent
    Webhook.objects.create(tenant=tenant, name="ops", url="http://127.0.0.1:9/hook", events=["*"])
    tool_create(tenant=tenant, name="notes.save", kind="http", actor=Actor.system("test"), description="Save a note.",
                input_schema={"type": "object", "properties": {"note": {"type": "string"}}},
                config={"method": "POST", "url": "http://127.0.0.1:9/notes"}, approval="always")
    agent = AgentFactory(tenant=tenant, slug="noter", version__provider="scripted", version__tools=["notes.save"],
                 version__provider_config={"responses": [
                     {"tool_calls": [{"name": "notes__save", "arguments": {"note": f"{SECRET} drinks tea"}}]},
                     {"content": f"I could not note that {SECRET} drinks tea."}]})
    alice = member("alice")
    run, _ = run_create(principal=principal_of(alice, tenant), agent_slug="noter",
                        input={"message": f"Note that {SECRET} drinks tea."})
    execute_run(run.pk)
    request = ApprovalRequest.objects.get(run=run)
    approval_decide(request_id=request.pk, user=owner, verdict="reject", seen_hash=request.current_hash,
                    comment=f"No notes about {SECRET}.", principal=principal_of(owner, tenant))
    execute_run(run.pk)
    proposed_hash = request.proposed_hash
    assert Run.objects.get(pk=run.pk).status == RunStatus.SUCCEEDED
    before = {place.split()[0] for place in stored_anywhere(SECRET)}
    assert {"approvals.ApprovalRequest", "approvals.ApprovalDecision", "webhooks.WebhookDelivery",
            "runs.Run", "runs.Step"} <= before

    memory_forget(tenant=tenant, scope="user", subject="alice", actor=Actor.for_user(owner))

    # Kept on purpose: the scripted model's lines are the agent's configuration, not the user's
    # words; the audit log is the tamper-evident record of what was asked and who decided it.
    approval_events = AuditEvent.objects.filter(action__in=["approval.requested", "approval.rejected"])
    assert sorted(stored_anywhere(SECRET)) == sorted([f"agents.AgentVersion {agent.current_version.pk}",
                                                      *(f"audit.AuditEvent {event.pk}" for event in approval_events)])
    request.refresh_from_db()
    assert (request.status, request.decided_by, request.proposed_hash) == ("rejected", owner, proposed_hash)
