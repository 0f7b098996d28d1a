"""Starting a run from the runs list, in a real browser: the operator picks one of the agents they
may start, writes a message, and lands on the new run's trace; a restricted agent is not offered."""

import pytest

from agentops.agents.services import agent_access_set
from agentops.audit.services import Actor
from runs.models import Run
from tests.factories import AgentFactory

pytest_plugins = ["tests.support.browser"]
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_operator_starts_a_run_of_an_agent_they_may_start(logged_in_page, operator, tenant, approver):
    AgentFactory(tenant=tenant, slug="support", name="Support")
    vip = AgentFactory(tenant=tenant, slug="vip", name="VIP desk")
    agent_access_set(agent=vip, restricted=True, users=[approver], groups=[], actor=Actor.system("test"))
    page = logged_in_page("olivia", "pw")

    page.goto("/runs/")
    page.click("text=Run agent")
    options = page.locator("select[name=agent] option").all_text_contents()
    page.select_option("select[name=agent]", "support")
    page.fill("textarea[name=message]", "Where is order #1042?")
    page.click("button:has-text('Start the run')")

    run = Run.objects.get()
    page.wait_for_url(f"**/runs/{run.pk}/")
    assert options == ["support (v1)"]
    assert run.input == {"message": "Where is order #1042?"} and run.created_by == operator
