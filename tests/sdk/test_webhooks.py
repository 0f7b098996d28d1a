"""agentops_client.webhooks.verify on a real delivery: the app's sender signs and POSTs it to a
local receiver, and the receiver's copy is verified, then tampered with."""

import json

import pytest
from agentops_client import WebhookVerificationError, webhooks

from tests.webhooks.conftest import SECRET

pytestmark = pytest.mark.django_db(transaction=True)


def signed_at(request) -> int:
    return int(request.headers["x-agentops-signature"].split(",")[0].removeprefix("t="))


def test_a_real_delivery_verifies_and_returns_its_payload(delivered):
    event = webhooks.verify(delivered.body, delivered.headers, SECRET)

    assert event["event"] == "approval.requested" and event["data"] == {"id": 7, "title": "Refund €80"}


def test_the_header_name_is_matched_in_any_case(delivered):
    headers = {"X-AgentOps-Signature": delivered.headers["x-agentops-signature"]}

    assert webhooks.verify(delivered.body.decode(), headers, SECRET)["data"]["id"] == 7


def test_a_tampered_body_is_refused(delivered):
    tampered = json.dumps({**json.loads(delivered.body), "data": {"id": 8}}, separators=(",", ":")).encode()

    with pytest.raises(WebhookVerificationError, match="No signature matches"):
        webhooks.verify(tampered, delivered.headers, SECRET)


def test_another_secret_is_refused(delivered):
    with pytest.raises(WebhookVerificationError):
        webhooks.verify(delivered.body, delivered.headers, "whsec-someone-else")


def test_an_old_delivery_is_refused_as_a_replay(delivered):
    replayed_at = signed_at(delivered) + 301

    with pytest.raises(WebhookVerificationError, match="300 s"):
        webhooks.verify(delivered.body, delivered.headers, SECRET, now=replayed_at)
    assert webhooks.verify(delivered.body, delivered.headers, SECRET, tolerance=600, now=replayed_at)["data"]["id"] == 7


@pytest.mark.parametrize("header", [None, "", "t=abc,v1=00", "v1=00", "t=1700000000"])
def test_a_missing_or_malformed_header_is_refused(delivered, header):
    headers = {} if header is None else {"X-AgentOps-Signature": header}

    with pytest.raises(WebhookVerificationError):
        webhooks.verify(delivered.body, headers, SECRET)
