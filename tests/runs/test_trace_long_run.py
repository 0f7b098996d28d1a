"""The trace viewer of a 1,000-step run costs one page of steps: a bounded answer, a fixed number
of queries, and no prompt until the person opens a model step."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from runs.timeline import TRACE_PAGE_SIZE

pytestmark = pytest.mark.django_db

PAGE_BYTES = 1_000_000


def get_counted(client, url, params=None):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, params or {})
    assert response.status_code == 200
    return response.content.decode(), len(captured)


def test_trace_of_a_thousand_steps_is_one_small_page(client, operator, long_run):
    client.force_login(operator)

    html, queries = get_counted(client, reverse("runs:trace", args=[long_run]))

    assert html.count('<details class="step') == TRACE_PAGE_SIZE
    assert len(html.encode()) < PAGE_BYTES / 4
    assert queries <= 12
    assert "turn 0:" not in html  # no prompt text: each comes when its step is opened
    assert html.count('hx-trigger="toggle once from:closest details"') == TRACE_PAGE_SIZE // 2


def test_the_last_page_of_a_thousand_steps_costs_what_the_first_does(client, operator, long_run):
    client.force_login(operator)
    steps_url = reverse("runs:steps", args=[long_run])

    first, first_queries = get_counted(client, steps_url, {"after": 0, "status": "succeeded"})
    last, last_queries = get_counted(client, steps_url, {"after": 1000 - TRACE_PAGE_SIZE, "status": "succeeded"})

    assert last_queries == first_queries
    assert len(last) < 1.2 * len(first)


def test_a_model_steps_prompt_is_fetched_alone_and_holds_the_whole_conversation(client, operator, long_run):
    client.force_login(operator)

    html, queries = get_counted(client, reverse("runs:prompt", args=[long_run, 999]))

    assert "1000 messages sent, 1 new in this call" in html and "turn 0:" in html
    assert queries <= 10
