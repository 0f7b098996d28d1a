"""Agent versions are immutable; a changed configuration makes the next one current."""

from decimal import Decimal

import pytest

from agentops.agents.models import Agent, AgentVersion
from agentops.agents.services import agent_create, agent_update, agent_version_create
from agentops.audit.models import AuditEvent
from agentops.audit.services import Actor
from agentops.audit.verify import audit_chain_verify

ACTOR = Actor.system("test")


@pytest.fixture
def support(tenant, operator):
    return agent_create(tenant=tenant, slug="support", name="Support", actor=ACTOR, user=operator,
                        config={"model": "demo", "provider": "demo", "system_prompt": "Be brief.",
                                "tools": ["kb.search"], "max_cost": Decimal("0.5")})


def test_creating_an_agent_makes_version_1_current(support, operator):
    version = Agent.objects.get(pk=support.pk).current_version

    assert version.number == 1 and version.system_prompt == "Be brief." and version.created_by == operator
    assert version.workflow == "agent_loop" and version.max_steps == 20


def test_creating_an_agent_records_the_agent_and_its_first_version(support, tenant):
    created, versioned = AuditEvent.objects.filter(tenant=tenant).order_by("id")

    assert (created.action, created.data) == ("agent.created", {"slug": "support", "name": "Support"})
    assert versioned.action == "agent.version_created" and versioned.data == {"number": 1}
    assert versioned.changes["system_prompt"] == [None, "Be brief."]
    assert audit_chain_verify(tenant) == (2, None)


def test_a_changed_config_makes_the_next_version_current(support):
    version = agent_version_create(agent=support, config={"system_prompt": "Be thorough."}, actor=ACTOR)

    current = Agent.objects.get(pk=support.pk).current_version
    assert version.number == 2 and current == version
    assert support.current_version == version


def test_a_new_version_keeps_the_settings_it_was_not_given(support):
    version = agent_version_create(agent=support, config={"system_prompt": "Be thorough."}, actor=ACTOR)

    assert (version.model, version.provider, version.tools) == ("demo", "demo", ["kb.search"])
    assert version.max_cost == Decimal("0.5")


def test_a_new_version_leaves_the_previous_one_as_it_was(support):
    agent_version_create(agent=support, config={"system_prompt": "Be thorough."}, actor=ACTOR)

    assert AgentVersion.objects.get(agent=support, number=1).system_prompt == "Be brief."


def test_a_new_version_records_only_what_changed(support, tenant):
    agent_version_create(agent=support, config={"system_prompt": "Be thorough.", "model": "demo"}, actor=ACTOR)

    event = AuditEvent.objects.filter(tenant=tenant, action="agent.version_created").latest("id")
    assert event.data == {"number": 2}
    assert event.changes == {"system_prompt": ["Be brief.", "Be thorough."]}


def test_an_unchanged_config_makes_no_new_version_and_records_nothing(support):
    events_before = AuditEvent.objects.count()

    version = agent_version_create(agent=support, config={"system_prompt": "Be brief.", "tools": ["kb.search"]},
                                   actor=ACTOR)

    assert version.number == 1
    assert support.versions.count() == 1 and AuditEvent.objects.count() == events_before


def test_a_config_equal_in_value_but_not_in_form_makes_no_new_version(support):
    events_before = AuditEvent.objects.count()

    version = agent_version_create(agent=support, config={"max_cost": Decimal("0.500000"), "max_steps": "20"},
                                   actor=ACTOR)

    assert version.number == 1
    assert support.versions.count() == 1 and AuditEvent.objects.count() == events_before


def test_an_unknown_setting_is_refused_and_nothing_is_created(support):
    with pytest.raises(ValueError, match="unknown agent settings: colour"):
        agent_version_create(agent=support, config={"colour": "blue", "system_prompt": "x"}, actor=ACTOR)

    assert support.versions.count() == 1


def test_a_saved_version_refuses_to_be_saved_again(support):
    version = AgentVersion.objects.get(agent=support)
    version.system_prompt = "Rewritten in place."

    with pytest.raises(ValueError, match="immutable"):
        version.save()

    assert AgentVersion.objects.get(pk=version.pk).system_prompt == "Be brief."


def test_renaming_an_agent_records_before_and_after(support, tenant):
    agent_update(agent=support, actor=ACTOR, name="Customer support", description="")

    event = AuditEvent.objects.get(tenant=tenant, action="agent.changed")
    assert event.changes == {"name": ["Support", "Customer support"]}
    assert Agent.objects.get(pk=support.pk).name == "Customer support"


def test_an_agent_renamed_in_memory_first_still_records_the_stored_name_as_before(support, tenant):
    support.name = "Customer support"  # as a ModelForm does before the service is called

    agent_update(agent=support, actor=ACTOR, name="Customer support", description="")

    event = AuditEvent.objects.get(tenant=tenant, action="agent.changed")
    assert event.changes == {"name": ["Support", "Customer support"]}
