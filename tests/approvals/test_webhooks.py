import ast
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.exceptions import ValidationError
from django_q.models import Schedule

from approvals import webhooks
from approvals.models import DeliveryStatus, Webhook, WebhookDelivery
from approvals.tasks import deliver_webhook
from approvals.webhooks import webhook_emit, webhook_sign, webhook_signature_verify

SECRET = "whsec-test-4f1c9b"


class HookServer:
    """A real HTTP endpoint on 127.0.0.1 that answers with the queued statuses (then 200) and keeps
    every request's headers and raw body."""

    def __init__(self, statuses=()):
        self.statuses = list(statuses)
        self.received = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                server.received.append({"headers": {k.lower(): v for k, v in self.headers.items()}, "body": body})
                status = server.statuses.pop(0) if server.statuses else 200
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"try later" if status >= 400 else b"ok")

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hooks/agentops"

    def __enter__(self):
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def no_enqueue(monkeypatch):
    """Deliveries are attempted by the test itself, as the worker would."""
    monkeypatch.setattr("django_q.tasks.async_task", lambda *args, **kwargs: None)


@pytest.fixture
def hook_for(tenant, monkeypatch):
    monkeypatch.setenv("ACME_WEBHOOK_SECRET", SECRET)

    def make(url, events=("approval.requested",)):
        return Webhook.objects.create(tenant=tenant, name="ops", url=url, secret="{{ secret:ACME_WEBHOOK_SECRET }}",
                                      events=list(events))

    return make


def test_a_signature_verifies_only_for_the_same_body_secret_and_a_recent_time():
    body = b'{"event":"approval.requested"}'
    header = webhook_sign(secret=SECRET, body=body, timestamp=1_700_000_000)

    assert webhook_signature_verify(secret=SECRET, header=header, body=body, now=1_700_000_010)
    assert not webhook_signature_verify(secret=SECRET, header=header, body=body + b" ", now=1_700_000_010)
    assert not webhook_signature_verify(secret="other", header=header, body=body, now=1_700_000_010)
    assert not webhook_signature_verify(secret=SECRET, header=header, body=body, now=1_700_001_000)
    assert not webhook_signature_verify(secret=SECRET, header="garbage", body=body)


def test_emit_writes_deliveries_only_for_active_subscribed_webhooks(tenant, hook_for, no_enqueue):
    wanted = hook_for("http://127.0.0.1:9/a", events=["run.failed"])
    hook_for("http://127.0.0.1:9/b", events=["run.succeeded"])
    everything = hook_for("http://127.0.0.1:9/c", events=["*"])
    Webhook.objects.filter(pk=hook_for("http://127.0.0.1:9/d", events=["*"]).pk).update(active=False)

    deliveries = webhook_emit(tenant=tenant, event="run.failed", payload={"run": {"id": "r1"}})

    assert {d.webhook_id for d in deliveries} == {wanted.pk, everything.pk}
    assert all(d.payload["data"] == {"run": {"id": "r1"}} and d.payload["id"] == str(d.uuid) for d in deliveries)


def test_a_delivery_is_signed_and_verifiable_by_the_receiver(tenant, hook_for, no_enqueue):
    with HookServer() as server:
        hook_for(server.url)
        [delivery] = webhook_emit(tenant=tenant, event="approval.requested", payload={"id": 7})

        deliver_webhook(delivery.pk)

    [received] = server.received
    assert webhook_signature_verify(secret=SECRET, header=received["headers"]["x-agentops-signature"],
                                    body=received["body"])
    assert received["headers"]["x-agentops-event"] == "approval.requested"
    assert received["headers"]["x-agentops-delivery"] == str(delivery.uuid)
    assert json.loads(received["body"])["data"] == {"id": 7}
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED and delivery.attempts == 1 and delivery.response_code == 200


def test_a_failed_delivery_is_retried_by_a_one_off_schedule_and_then_succeeds(tenant, hook_for, no_enqueue,
                                                                               monkeypatch):
    with HookServer(statuses=[503]) as server:
        hook_for(server.url)
        [delivery] = webhook_emit(tenant=tenant, event="approval.requested", payload={"id": 7})

        deliver_webhook(delivery.pk)
        delivery.refresh_from_db()
        assert delivery.status == DeliveryStatus.PENDING and delivery.attempts == 1
        assert delivery.response_code == 503 and "try later" in delivery.error
        schedule = Schedule.objects.get(func="approvals.tasks.deliver_webhook")
        assert schedule.schedule_type == Schedule.ONCE and schedule.next_run == delivery.next_attempt_at
        backoff = (delivery.next_attempt_at - delivery.last_attempt_at).total_seconds()
        assert webhooks.BACKOFF_BASE_SECONDS <= backoff < webhooks.BACKOFF_BASE_SECONDS + 5

        # The scheduler fires the schedule at next_run: run its task as the worker would, then.
        monkeypatch.setattr(webhooks.timezone, "now", lambda: schedule.next_run)
        deliver_webhook(*ast.literal_eval(f"({schedule.args},)"))

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED and delivery.attempts == 2 and delivery.error == ""
    assert len(server.received) == 2
    assert json.loads(server.received[0]["body"])["id"] == json.loads(server.received[1]["body"])["id"]


def test_a_delivery_not_yet_due_is_left_for_its_schedule(tenant, hook_for, no_enqueue):
    with HookServer(statuses=[500]) as server:
        hook_for(server.url)
        [delivery] = webhook_emit(tenant=tenant, event="approval.requested", payload={})
        deliver_webhook(delivery.pk)

        deliver_webhook(delivery.pk)  # a duplicated task, long before the retry is due

    delivery.refresh_from_db()
    assert delivery.attempts == 1 and len(server.received) == 1


def test_a_delivery_gives_up_after_max_attempts(tenant, hook_for, no_enqueue, monkeypatch):
    monkeypatch.setattr(webhooks, "MAX_ATTEMPTS", 2)
    with HookServer(statuses=[500, 500, 500]) as server:
        hook_for(server.url)
        [delivery] = webhook_emit(tenant=tenant, event="approval.requested", payload={})
        deliver_webhook(delivery.pk)
        WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=None)

        deliver_webhook(delivery.pk)

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED and delivery.attempts == 2
    assert Schedule.objects.filter(func="approvals.tasks.deliver_webhook").count() == 1  # the first retry only


def test_an_undefined_signing_secret_fails_the_attempt_without_sending(tenant, no_enqueue):
    Webhook.objects.create(tenant=tenant, name="x", url="http://127.0.0.1:9/x",
                           secret="{{ secret:NOT_DEFINED_ANYWHERE }}", events=["*"])
    [delivery] = webhook_emit(tenant=tenant, event="run.failed", payload={})

    deliver_webhook(delivery.pk)

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING and "NOT_DEFINED_ANYWHERE" in delivery.error


def test_a_webhook_secret_must_be_a_reference_not_a_value(tenant):
    hook = Webhook(tenant=tenant, name="x", url="https://example.com/hook", secret="plain-text-secret", events=["*"])

    with pytest.raises(ValidationError) as error:
        hook.full_clean()

    assert "secret" in error.value.message_dict
