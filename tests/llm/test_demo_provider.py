"""The offline demo model: relevant tools, arguments from the message and from results, answers."""

import json

import pytest

from agentops.llm.base import ToolSpec
from agentops.llm.demo_provider import DemoProvider


def tool(name, description, properties, required=()):
    return ToolSpec(name, description, {"type": "object", "properties": properties, "required": list(required)})


LOOKUP = tool("lookup_order", "Look up an order by its id; returns its status and amount.",
              {"order_id": {"type": "string"}}, ["order_id"])
REFUND = tool("refund_order", "Refund an order, fully or partially.",
              {"order_id": {"type": "string"}, "amount": {"type": "number"}, "reason": {"type": "string"}},
              ["order_id", "amount"])
CANCEL = tool("cancel_order", "Cancel an order that has not shipped.", {"order_id": {"type": "string"}}, ["order_id"])
EMAIL = tool("send_email", "Send an email to a customer.",
             {"to": {"type": "string", "format": "email"}, "subject": {"type": "string"}, "body": {"type": "string"}},
             ["to", "subject", "body"])
SUPPORT_TOOLS = [LOOKUP, REFUND, CANCEL, EMAIL]
ORDER = {"order_id": "1042", "status": "paid", "amount": 30.0}


@pytest.fixture
def demo():
    return DemoProvider()


class Conversation:
    """A conversation driven by the demo model, with tool results supplied by the test."""

    def __init__(self, demo, request, tools=SUPPORT_TOOLS):
        self.demo, self.tools = demo, tools
        self.messages = [{"role": "system", "content": "You help customers."}, {"role": "user", "content": request}]

    def next(self):
        response = self.demo.complete(model="gpt-4o-mini", messages=self.messages, tools=self.tools)
        self.messages.append(response.to_message())
        return response

    def answer_tools(self, response, results):
        for call in response.tool_calls:
            self.messages.append({"role": "tool", "tool_call_id": call.id, "content": json.dumps(results[call.name])})


def calls_of(response):
    return [(call.name, json.loads(call.arguments)) for call in response.tool_calls]


def test_calls_the_relevant_tool_with_arguments_from_the_message(demo):
    response = Conversation(demo, "What is the status of order #1042?").next()

    assert calls_of(response) == [("lookup_order", {"order_id": "1042"})]
    assert response.finish_reason == "tool_calls"


def test_does_not_take_an_action_the_user_did_not_ask_for(demo):
    response = Conversation(demo, "What is the status of order #1042?").next()

    assert {call.name for call in response.tool_calls} == {"lookup_order"}


def test_fills_email_and_text_fields_from_the_message(demo):
    request = "Send an email to jane@example.com saying her parcel left today."

    response = Conversation(demo, request, tools=[EMAIL]).next()

    assert calls_of(response) == [("send_email", {"to": "jane@example.com", "subject": request, "body": request})]


def test_skips_a_tool_whose_required_arguments_cannot_be_filled(demo):
    response = Conversation(demo, "Please refund order #1042.", tools=[REFUND]).next()

    assert response.tool_calls == ()
    assert response.content


def test_looks_the_order_up_then_refunds_the_amount_found(demo):
    conversation = Conversation(demo, "Please refund order #1042, the customer was charged twice.")
    lookup = conversation.next()
    conversation.answer_tools(lookup, {"lookup_order": ORDER})

    refund = conversation.next()

    assert calls_of(lookup) == [("lookup_order", {"order_id": "1042"})]
    [(name, arguments)] = calls_of(refund)
    assert (name, arguments["order_id"], arguments["amount"]) == ("refund_order", "1042", 30.0)


def test_amount_the_user_wrote_wins_over_the_amount_looked_up(demo):
    conversation = Conversation(demo, "Refund $12.50 on order #1042.")
    conversation.answer_tools(conversation.next(), {"lookup_order": ORDER})

    refund = conversation.next()

    assert calls_of(refund)[0][1]["amount"] == 12.5


def test_writes_the_final_answer_from_the_tool_results(demo):
    conversation = Conversation(demo, "What is the status of order #1042?")
    conversation.answer_tools(conversation.next(), {"lookup_order": ORDER})

    answer = conversation.next()

    assert answer.tool_calls == () and answer.finish_reason == "stop"
    assert "status paid" in answer.content and "amount 30.0" in answer.content


def test_final_answer_reports_the_error_a_tool_returned(demo):
    conversation = Conversation(demo, "Refund $12.50 on order #1042.")
    conversation.answer_tools(conversation.next(), {"lookup_order": ORDER})
    rejection = {"error": {"code": "rejected", "message": "The approver rejected this refund"}}
    conversation.answer_tools(conversation.next(), {"refund_order": rejection})

    answer = conversation.next()

    assert "refund_order failed: The approver rejected this refund." in answer.content


def test_answers_directly_when_no_tool_is_relevant(demo):
    response = Conversation(demo, "Tell me a joke about penguins.").next()

    assert response.tool_calls == ()
    assert "Tell me a joke about penguins." in response.content


def test_same_conversation_always_gives_the_same_response():
    request = "Please refund order #1042, the customer was charged twice."

    first = Conversation(DemoProvider(), request).next()
    second = Conversation(DemoProvider(), request).next()

    assert first.to_dict() == second.to_dict()


def test_reports_estimated_usage_under_the_demo_model(demo):
    response = Conversation(demo, "Hello!").next()

    assert response.model == "demo"
    assert response.usage.input_tokens > 0 and response.usage.output_tokens > 0


def test_final_answer_quotes_search_results_but_summarises_a_single_record():
    from agentops.llm.demo_provider import write_answer, read_conversation

    messages = [
        {"role": "user", "content": "shipping and my order 7"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "a", "type": "function", "function": {"name": "kb__search", "arguments": "{}"}},
            {"id": "b", "type": "function", "function": {"name": "orders__lookup", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "a", "content": json.dumps(
            {"results": [{"title": "Shipping times", "snippet": "Three to five days. More text."}]})},
        {"role": "tool", "tool_call_id": "b", "content": json.dumps(
            {"order_id": "7", "status": "paid", "items": [{"name": "Lamp"}]})},
    ]

    answer = write_answer(read_conversation(messages))

    assert "kb.search found 1:\n  - Shipping times — Three to five days." in answer
    assert "orders.lookup: order id 7, status paid, items (1 item)." in answer


def test_the_answer_is_streamed_a_word_at_a_time(demo):
    pieces = []

    response = demo.complete(model="demo", messages=[{"role": "user", "content": "Hello there"}], tools=[],
                             on_delta=pieces.append)

    assert len(pieces) > 2 and "".join(pieces) == response.content
