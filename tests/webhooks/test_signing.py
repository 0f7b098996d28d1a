"""The signature a receiver checks, and the secret behind it."""

import json

import pytest
from django.core.exceptions import ValidationError

from agentops.audit.services import Actor
from agentops.secrets.services import secret_set
from agentops.webhooks.models import Webhook
from agentops.webhooks.services import webhook_emit, webhook_sign, webhook_signature_verify
from tests.webhooks.conftest import SECRET

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_signature_verifies_only_for_the_same_body_secret_and_a_recent_time():
    body = b'{"event":"approval.requested"}'
    header = webhook_sign(secret=SECRET, body=body, timestamp=1_700_000_000)

    assert webhook_signature_verify(secret=SECRET, header=header, body=body, now=1_700_000_010)
    assert not webhook_signature_verify(secret=SECRET, header=header, body=body + b" ", now=1_700_000_010)
    assert not webhook_signature_verify(secret="other", header=header, body=body, now=1_700_000_010)
    assert not webhook_signature_verify(secret=SECRET, header=header, body=body, now=1_700_001_000)
    assert not webhook_signature_verify(secret=SECRET, header="garbage", body=body)


def test_a_delivery_is_signed_and_verifiable_by_the_receiver(tenant, hook_for, receiver, worker):
    hook_for(receiver.url + "/hooks/agentops")
    [delivery] = webhook_emit(tenant=tenant, event="approval.requested", payload={"id": 7})

    worker.run_due()

    [received] = receiver.requests
    assert webhook_signature_verify(secret=SECRET, header=received.headers["x-agentops-signature"],
                                    body=received.body)
    assert received.path == "/hooks/agentops"
    assert received.headers["x-agentops-event"] == "approval.requested"
    assert received.headers["x-agentops-delivery"] == str(delivery.uuid)
    assert json.loads(received.body)["data"] == {"id": 7}
    delivery.refresh_from_db()
    assert delivery.status == "succeeded" and delivery.attempts == 1 and delivery.response_code == 200


def test_an_undefined_signing_secret_fails_the_attempt_without_sending(tenant, receiver, worker):
    Webhook.objects.create(tenant=tenant, name="x", url=receiver.url, secret="{{ secret:NOT_DEFINED_ANYWHERE }}",
                           events=["*"])
    [delivery] = webhook_emit(tenant=tenant, event="run.failed", payload={})

    worker.run_due()

    delivery.refresh_from_db()
    assert delivery.status == "pending" and "NOT_DEFINED_ANYWHERE" in delivery.error
    assert receiver.requests == []


@pytest.mark.parametrize("where", ["another tenant", "the environment"])
def test_a_signing_secret_comes_from_the_webhooks_tenant_only(tenant, other_tenant, receiver, worker, monkeypatch,
                                                              where):
    # Given the secret's value defined elsewhere than in the webhook's tenant
    if where == "another tenant":
        secret_set(tenant=other_tenant, name="ACME_WEBHOOK_SECRET", value=SECRET, actor=Actor.system("test"))
    else:
        monkeypatch.setenv("ACME_WEBHOOK_SECRET", SECRET)
        monkeypatch.setenv("AGENTOPS_SECRET_ACME_WEBHOOK_SECRET", SECRET)
    Webhook.objects.create(tenant=tenant, name="x", url=receiver.url, secret="{{ secret:ACME_WEBHOOK_SECRET }}",
                           events=["*"])
    [delivery] = webhook_emit(tenant=tenant, event="run.failed", payload={})

    # When it is attempted
    worker.run_due()

    # Then nothing is sent, and the error names the secret
    delivery.refresh_from_db()
    assert "'ACME_WEBHOOK_SECRET' is not defined in this tenant's secrets" in delivery.error
    assert SECRET not in delivery.error and receiver.requests == []


def test_a_webhook_secret_must_be_a_reference_not_a_value(tenant):
    hook = Webhook(tenant=tenant, name="x", url="https://example.com/hook", secret="plain-text-secret", events=["*"])

    with pytest.raises(ValidationError) as error:
        hook.full_clean()

    assert "secret" in error.value.message_dict
