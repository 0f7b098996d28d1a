"""Eval suites: names are unique within a tenant, not across tenants."""

import pytest
from django.db import IntegrityError

from tests.factories import AgentFactory, EvalCaseFactory, EvalSuiteFactory

pytestmark = pytest.mark.django_db


def test_two_tenants_may_name_a_suite_alike(tenant, other_tenant):
    EvalSuiteFactory(agent=AgentFactory(tenant=tenant), name="smoke")

    suite = EvalSuiteFactory(agent=AgentFactory(tenant=other_tenant), name="smoke")

    assert suite.tenant == other_tenant


def test_a_tenant_cannot_have_two_suites_of_one_name(tenant):
    EvalSuiteFactory(agent=AgentFactory(tenant=tenant), name="smoke")

    with pytest.raises(IntegrityError):
        EvalSuiteFactory(agent=AgentFactory(tenant=tenant), name="smoke")


def test_cases_keep_their_order_in_the_suite(tenant):
    suite = EvalSuiteFactory(agent=AgentFactory(tenant=tenant))
    second = EvalCaseFactory(suite=suite, position=2)
    first = EvalCaseFactory(suite=suite, position=1)

    assert list(suite.cases.all()) == [first, second]
