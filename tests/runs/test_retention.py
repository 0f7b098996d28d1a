"""Retention: a finished run's payloads are purged after the tenant's days, its aggregates and audit
kept; a legal hold keeps the run whole."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone
from django_q.models import Schedule
from rest_framework.test import APIClient

from agentops.audit.models import AuditEvent
from agentops.tenancy.models import Membership, Tenant
from agentops.tenancy.principal import Principal
from runs.models import Blob, DailyUsage, Run, RunRollup, RunStatus, Step
from runs.retention import payloads_purge
from runs.services import run_create
from tests.conftest import member_in
from tests.factories import AgentFactory

pytestmark = pytest.mark.django_db

PROMPT = "Tell me about order 1042, " + "with every detail " * 10


@pytest.fixture(autouse=True)
def small_blobs(settings):
    settings.JOURNAL_BLOB_THRESHOLD = 64  # the prompts go to blobs


@pytest.fixture
def finished(advance):
    """finished(tenant, days_ago=40) → a run of one model call that ended `days_ago` days ago."""

    def make(tenant, days_ago=40):
        agent = AgentFactory(tenant=tenant, version__workflow="test_retention_chat", version__provider="scripted",
                             version__provider_config={"responses": []})
        user = member_in(tenant, f"op-{agent.slug}", "operator")
        principal = Principal(tenant=tenant, user=user, membership=Membership.objects.get(user=user, tenant=tenant))
        run, _ = run_create(principal=principal, agent_slug=agent.slug, input={"message": PROMPT})
        run = advance(run)
        assert run.status == RunStatus.SUCCEEDED
        Run.objects.filter(pk=run.pk).update(finished_at=timezone.now() - timedelta(days=days_ago))
        return run

    return make


from runs.registry import workflow  # noqa: E402


@workflow("test_retention_chat")
def chat(ctx, input):
    return {"answer": ctx.llm([{"role": "user", "content": input["message"]}]).content}


def keep_days(tenant, days=30):
    Tenant.objects.filter(pk=tenant.pk).update(payload_retention_days=days)


def test_a_run_past_retention_loses_its_payloads_and_keeps_its_totals_and_audit(finished, tenant):
    keep_days(tenant)
    run = finished(tenant)
    before = Run.objects.get(pk=run.pk)
    usage = list(DailyUsage.objects.values_list("model_calls", "tokens_in", "cost"))
    rollups = list(RunRollup.objects.values_list("runs", "tokens_in", "cost"))
    assert Blob.objects.exists()

    assert payloads_purge() == {"acme": 1}

    run = Run.objects.get(pk=run.pk)
    assert (run.input, run.output, run.input_preview, run.output_preview) == ({}, None, "", "")
    assert run.payload_purged_at is not None
    assert set(Step.objects.filter(run=run).values_list("input", "output")) == {(None, None)}
    assert (run.tokens_in, run.tokens_out, run.cost, run.step_count) == (
        before.tokens_in, before.tokens_out, before.cost, before.step_count)
    assert list(DailyUsage.objects.values_list("model_calls", "tokens_in", "cost")) == usage
    assert list(RunRollup.objects.values_list("runs", "tokens_in", "cost")) == rollups
    assert not Blob.objects.exists()
    assert AuditEvent.objects.filter(action="run.payload_purged", target_id=str(run.pk)).exists()
    assert AuditEvent.objects.filter(action="run.created", target_id=str(run.pk)).exists()


def test_held_recent_and_unlimited_runs_keep_their_payloads(finished, tenant, other_tenant):
    keep_days(tenant)
    held, recent, theirs = finished(tenant), finished(tenant, days_ago=10), finished(other_tenant)
    Run.objects.filter(pk=held.pk).update(legal_hold=True)

    assert payloads_purge() == {"acme": 0}

    for run in (held, recent, theirs):
        run = Run.objects.get(pk=run.pk)
        assert run.payload_purged_at is None and run.input == {"message": PROMPT}


def test_a_blob_another_run_still_uses_is_kept(finished, tenant, other_tenant):
    keep_days(tenant)
    finished(tenant)
    kept = finished(other_tenant)  # the same prompt: the same blob, shared by content

    payloads_purge()

    assert Blob.objects.exists()
    assert Run.objects.get(pk=kept.pk).payload_purged_at is None


def test_purging_twice_does_nothing_more(finished, tenant):
    keep_days(tenant)
    finished(tenant)
    payloads_purge()

    assert payloads_purge() == {"acme": 0}
    assert AuditEvent.objects.filter(action="run.payload_purged").count() == 1


def test_the_command_reports_and_a_dry_run_writes_nothing(finished, tenant):
    keep_days(tenant)
    run = finished(tenant)
    out = StringIO()

    call_command("runs", "purge-payloads", "--dry-run", stdout=out)

    assert "acme: 1 runs' payloads would be purged" in out.getvalue()
    assert Run.objects.get(pk=run.pk).payload_purged_at is None
    call_command("runs", "purge-payloads", "--tenant", "acme", stdout=out)
    assert "acme: 1 runs' payloads purged" in out.getvalue()


@pytest.mark.parametrize("args, message", [
    (["--tenant", "nobody"], "No tenant with slug 'nobody'"),
    (["--tenant", "acme"], "keeps payloads forever"),
])
def test_the_command_refuses_bad_arguments_readably(tenant, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("runs", "purge-payloads", *args)


def test_the_purge_is_scheduled_daily(db):
    assert Schedule.objects.filter(name="agentops.payload-purge", func="runs.tasks.purge_payloads",
                                   schedule_type="D").exists()


def test_the_trace_says_the_payload_was_purged(finished, tenant, client, owner):
    keep_days(tenant)
    run = finished(tenant)
    payloads_purge()
    client.force_login(owner)

    page = client.get(reverse("runs:trace", args=[run.pk])).content.decode()

    assert "Payload purged under retention" in page and PROMPT not in page


# -- legal hold ----------------------------------------------------------------------------------


@pytest.fixture
def owner_api(owner, tenant, api_key_for):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_for(owner, tenant, ('read', 'runs:hold'))}")
    return client


def test_an_owner_holds_a_run_and_retention_keeps_it_until_released(finished, tenant, owner_api):
    keep_days(tenant)
    run = finished(tenant)

    held = owner_api.post(f"/api/v1/runs/{run.pk}/hold/")
    payloads_purge()

    assert held.status_code == 200 and held.json()["legal_hold"] is True
    assert Run.objects.get(pk=run.pk).payload_purged_at is None
    released = owner_api.delete(f"/api/v1/runs/{run.pk}/hold/")
    payloads_purge()
    assert released.json()["legal_hold"] is False
    assert Run.objects.get(pk=run.pk).payload_purged_at is not None
    assert [e.action for e in AuditEvent.objects.filter(action__startswith="run.hold").order_by("pk")] == [
        "run.hold_set", "run.hold_cleared"]


def test_operators_cannot_hold_runs(finished, tenant, api):
    run = finished(tenant)

    assert api.post(f"/api/v1/runs/{run.pk}/hold/").status_code == 403
    assert Run.objects.get(pk=run.pk).legal_hold is False


def test_another_tenants_run_cannot_be_held(finished, other_tenant, owner_api):
    theirs = finished(other_tenant)

    response = owner_api.post(f"/api/v1/runs/{theirs.pk}/hold/")

    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert Run.objects.get(pk=theirs.pk).legal_hold is False
