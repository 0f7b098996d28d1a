"""`manage.py costs recompute`: after a price correction, past model calls are priced again and
every total that holds their cost follows (runs, daily usage, the dashboard's rollups), audited."""

from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Sum
from django.utils import timezone

from agentops.audit.models import AuditEvent
from agentops.audit.sequencer import audit_seal
from agentops.llm.models import ModelPrice
from agentops.tenancy.models import Membership
from agentops.tenancy.principal import Principal
from agentops.tenancy.roles import Role
from runs.engine import execute_run
from runs.models import DailyUsage, ModelCallRollup, Run, RunRollup, Step, StepKind
from runs.rollups import rollups_rebuild
from runs.services import run_create
from tests.conftest import member_in
from tests.factories import AgentFactory
from tests.llm.test_prices import JAN, a_price

pytestmark = pytest.mark.django_db


@pytest.fixture
def run_in(openai_server, settings):
    """run_in(tenant) → a finished run of one call to acme-1 (100k prompt, 10k output tokens)."""
    settings.OPENAI_BASE_URL, settings.OPENAI_API_KEY = openai_server.base_url, "sk-local-test"

    def run(tenant) -> Run:
        agent = AgentFactory(tenant=tenant, version__workflow="test_prices_one_call", version__provider="openai",
                             version__model="acme-1")
        user = member_in(tenant, f"op-{agent.slug}", Role.OPERATOR)
        principal = Principal(tenant=tenant, user=user, membership=Membership.objects.get(user=user, tenant=tenant))
        openai_server.reply("Hello.", usage={"prompt_tokens": 100_000, "completion_tokens": 10_000})
        created, _ = run_create(principal=principal, agent_slug=agent.slug, input={})
        execute_run(created.pk)
        return Run.objects.get(pk=created.pk)

    return run


@pytest.fixture
def corrected(run_in, tenant, other_tenant):
    """Two runs of acme and one of globex priced at $1/$2, then the price corrected to $3/$2."""
    price = a_price(start=JAN, prompt="1", output="2")
    runs = [run_in(tenant), run_in(tenant), run_in(other_tenant)]
    ModelPrice.objects.filter(pk=price.pk).update(input_per_mtok=Decimal("3"), cached_input_per_mtok=Decimal("3"))
    return runs


def recompute(*args) -> str:
    out = StringIO()
    since = (timezone.now() - timedelta(days=1)).date().isoformat()
    call_command("costs", "recompute", "--since", since, *args, stdout=out)
    return out.getvalue()


def totals(tenant):
    return (Run.objects.filter(tenant=tenant).aggregate(c=Sum("cost"))["c"],
            DailyUsage.objects.filter(tenant=tenant).aggregate(c=Sum("cost"))["c"],
            RunRollup.objects.filter(tenant=tenant).aggregate(c=Sum("cost"))["c"])


def test_a_correction_reprices_the_steps_and_every_total_that_holds_them(corrected, tenant, other_tenant):
    assert totals(tenant) == (Decimal("0.240000"),) * 3  # 100k at $1 + 10k at $2, twice

    output = recompute("--tenant", "acme")

    assert totals(tenant) == (Decimal("0.640000"),) * 3  # 100k at $3 + 10k at $2, twice
    assert totals(other_tenant) == (Decimal("0.120000"),) * 3  # not asked for: unchanged
    step = Step.objects.filter(run=corrected[0], kind=StepKind.LLM).get()
    assert step.cost == Decimal("0.320000") and step.price["input_per_mtok"] == "3.000000"
    assert "acme: 2 model calls priced again, 2 changed in 2 runs, cost +0.400000 USD" in output


def rollups():
    return (sorted(RunRollup.objects.values_list("tenant_id", "agent_id", "outcome", "cost")),
            sorted(ModelCallRollup.objects.values_list("tenant_id", "agent_id", "model", "calls", "cost")))


def test_the_rollups_after_a_recompute_equal_a_rebuild_from_the_runs(corrected, tenant):
    recompute()
    incremental = rollups()

    rollups_rebuild()

    assert rollups() == incremental


def test_a_recompute_is_audited_once_per_tenant_with_its_counts_and_difference(corrected, tenant, other_tenant):
    recompute()
    audit_seal()

    [acme] = AuditEvent.objects.filter(tenant=tenant, action="costs.recomputed")
    [globex] = AuditEvent.objects.filter(tenant=other_tenant, action="costs.recomputed")
    assert (acme.data["steps"], acme.data["changed"], acme.data["runs"], acme.data["delta"]) == (2, 2, 2, "0.400000")
    assert globex.data["delta"] == "0.200000"


def test_running_it_again_changes_nothing(corrected, tenant):
    recompute()

    output = recompute()

    assert "2 changed" not in output and "0 changed in 0 runs, cost +0 USD" in output
    assert totals(tenant) == (Decimal("0.640000"),) * 3
    assert AuditEvent.objects.filter(action="costs.recomputed").count() == 2


def test_a_dry_run_reports_and_writes_nothing(corrected, tenant):
    output = recompute("--dry-run")

    assert "acme: 2 model calls priced again, 2 changed in 2 runs, cost +0.400000 USD" in output
    assert "Dry run: nothing was written." in output
    assert totals(tenant) == (Decimal("0.240000"),) * 3
    assert not AuditEvent.objects.filter(action="costs.recomputed").exists()


@pytest.mark.parametrize("args, message", [
    (["--since", "2026-02-30"], "is not a date"),
    (["--since", "yesterday"], "is not a date"),
    (["--since", "2026-01-01", "--tenant", "nobody"], "No tenant with slug 'nobody'"),
])
def test_bad_arguments_are_refused_with_a_readable_message(db, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("costs", "recompute", *args)
