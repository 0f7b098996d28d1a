"""The full prompt of a model call, rebuilt from the delta journal, and its page."""

import pytest
from django.urls import reverse

from runs.journal_view import prompt_for_step, prompts_for_steps, step_views
from runs.models import Blob, Step
from tests.support.runs_journal import add_mixed_steps, add_model_call, add_tool_call, blob, make_run, reply

pytestmark = pytest.mark.django_db

SYSTEM = {"role": "system", "content": "You are the support agent."}
QUESTION = {"role": "user", "content": "Where is my order 1042?"}
RESULT = {"role": "tool", "tool_call_id": "call_lookup_order", "content": '{"status": "shipped"}'}
FOLLOW_UP = {"role": "user", "content": "And when will it arrive?"}


@pytest.fixture
def three_calls(agent):
    """Three model calls of one conversation with a tool call between; the second call's new
    messages and the shared tool list are stored as blobs, as the engine does past its threshold."""
    run = make_run(agent)
    tools = blob([{"name": "lookup_order", "description": "Find an order", "parameters": {"type": "object"}}])
    add_model_call(run, 1, [SYSTEM, QUESTION], tools=tools, response=reply(None, [("lookup_order", {"order": 1042})]))
    add_tool_call(run, 2, result={"status": "shipped"})
    add_model_call(run, 3, blob([RESULT]), previous=1, tools=tools, response=reply("It shipped."))
    add_model_call(run, 4, [FOLLOW_UP], previous=3, tools=tools, response=reply("Tomorrow."))
    return run


def as_messages(prompt):
    return [(m.message["role"], m.message.get("content"), m.seq, m.added) for m in prompt]


def test_prompt_is_rebuilt_from_the_delta_journal_across_three_calls(three_calls):
    prompt = prompt_for_step(run=three_calls, seq=4)

    assert as_messages(prompt) == [
        ("system", SYSTEM["content"], 1, False),
        ("user", QUESTION["content"], 1, False),
        ("assistant", None, 1, False),  # the first call's reply, with its tool call
        ("tool", RESULT["content"], 3, False),  # resolved from its blob
        ("assistant", "It shipped.", 3, False),
        ("user", FOLLOW_UP["content"], 4, True),  # the only message new in call 4
    ]
    assert prompt[2].reply and prompt[2].tool_calls[0]["name"] == "lookup_order"
    assert '"order": 1042' in prompt[2].tool_calls[0]["arguments"]


def test_first_call_prompt_is_its_own_messages_all_new(three_calls):
    prompt = prompt_for_step(run=three_calls, seq=1)

    assert as_messages(prompt) == [("system", SYSTEM["content"], 1, True), ("user", QUESTION["content"], 1, True)]


def test_prompts_of_many_calls_read_two_queries(three_calls, django_assert_num_queries):
    with django_assert_num_queries(2):  # the model steps, then every blob they reference
        prompts = prompts_for_steps(run=three_calls, seqs=[1, 2, 3, 4])

    assert sorted(prompts) == [1, 3, 4]  # step 2 is a tool call: no prompt
    assert [m.added for m in prompts[3]] == [False, False, False, True]


def test_prompt_of_a_long_run_reads_at_most_two_queries(agent, django_assert_max_num_queries):
    run = make_run(agent)
    add_mixed_steps(run, 900)

    with django_assert_max_num_queries(2):
        prompt = prompt_for_step(run=run, seq=898)

    assert len(prompt) == 300 * 2 - 1  # 300 calls: each adds a message, each but the last left a reply
    assert [m.message["content"] for m in prompt if m.added] == ["message 898"]


def test_a_missing_blob_shows_as_a_marker_instead_of_failing(three_calls):
    Blob.objects.filter(pk=Step.objects.get(run=three_calls, seq=3).input["messages"]["$blob"]).delete()

    prompt = prompt_for_step(run=three_calls, seq=3)

    assert prompt[-1].added and prompt[-1].role == "missing" and "is missing" in prompt[-1].content_text
    assert [m.role for m in prompt[:-1]] == ["system", "user", "assistant"]  # everything else is still there


def test_step_views_resolve_all_blobs_of_a_page_in_one_query(three_calls, django_assert_num_queries):
    steps = list(Step.objects.filter(run=three_calls).order_by("seq"))

    with django_assert_num_queries(1):
        views = step_views(steps)

    assert views[2].messages == [RESULT]
    assert views[2].previous == 1
    assert views[0].response["tool_calls"][0]["name"] == "lookup_order"


def test_prompt_page_marks_the_new_messages(client, operator, three_calls):
    client.force_login(operator)

    html = client.get(reverse("runs:prompt", args=[three_calls.pk, 4]), HTTP_HX_REQUEST="true").content.decode()

    assert "<html" not in html
    assert "6 messages sent, 1 new in this call" in html
    assert html.count('class="msg role-user added"') == 1
    assert "reply of call #1" in html and "And when will it arrive?" in html


def test_prompt_page_of_a_step_that_is_not_a_model_call_is_not_found(client, operator, three_calls):
    client.force_login(operator)

    assert client.get(reverse("runs:prompt", args=[three_calls.pk, 2])).status_code == 404


def test_prompt_page_without_htmx_is_a_whole_page(client, operator, three_calls):
    client.force_login(operator)

    html = client.get(reverse("runs:prompt", args=[three_calls.pk, 3])).content.decode()

    assert "<html" in html and "Prompt of model call #3" in html
