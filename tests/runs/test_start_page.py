"""The start-run page: it offers the agents the user may start, starts a run and opens its trace,
and refuses a restricted agent's outsider with the reason (403, audited), like the API."""

import pytest

from agentops.agents.services import agent_access_set
from agentops.audit.services import Actor
from agentops.tenancy.roles import Role
from runs.models import Run
from tests.factories import AgentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser(client, operator):
    client.force_login(operator)
    return client


@pytest.fixture
def vip(tenant, member):
    agent = AgentFactory(tenant=tenant, slug="vip")
    agent_access_set(agent=agent, restricted=True, users=[member("rita", Role.OPERATOR)], groups=[],
                     actor=Actor.system("test"))
    return agent


def test_the_page_offers_only_the_agents_the_user_may_start(browser, agent, vip):
    form = browser.get("/runs/start/").context["form"]

    assert [slug for slug, _ in form.fields["agent"].widget.choices] == ["support"]


def test_starting_a_run_opens_its_trace(browser, agent):
    response = browser.post("/runs/start/", {"agent": "support", "message": "Where is order #1042?"})

    run = Run.objects.get()
    assert response.status_code == 302 and response.url == f"/runs/{run.pk}/"
    assert run.input == {"message": "Where is order #1042?"}


def test_a_restricted_agents_outsider_is_refused_with_the_reason_and_audited(browser, vip, audited):
    response = browser.post("/runs/start/", {"agent": "vip", "message": "hi"})

    assert response.status_code == 403
    assert "olivia may not start vip" in response.content.decode()
    assert not Run.objects.exists()
    assert [event["code"] for event in audited("run.refused")] == ["agent_restricted"]


def test_a_viewer_may_not_open_the_page(client, member):
    client.force_login(member("vera", Role.VIEWER))

    assert client.get("/runs/start/").status_code == 403
