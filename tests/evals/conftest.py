"""Fixtures of the evals tests: a suite with a history (tests/support/evals.py), a finished run."""

import pytest

from tests.support.evals import History, finished_run, make_history


@pytest.fixture
def eval_history(tenant) -> History:
    return make_history(tenant)


@pytest.fixture
def agent_run(tenant, operator):
    """A finished run of the agent "greeter" (the demo model, no tools): it answered a greeting."""
    return finished_run(operator, tenant, "greeter", "Hello")
