from datetime import datetime, timedelta
from importlib import import_module

import pytest
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.signing import SignedPackage

from agentops.audit.services import Actor
from agentops.secrets.services import secret_set
from agentops.webhooks.models import Webhook
from tests.support.tool_servers import Reply, ScriptedHTTPServer

SECRET = "whsec-test-4f1c9b"


@pytest.fixture
def receiver(allow_outbound):
    """A real HTTP endpoint on 127.0.0.1 that webhooks may reach in this test: 200 unless replies are
    scripted (`receiver.reply(...)`)."""
    with ScriptedHTTPServer(lambda request: Reply(200, "ok")) as server:
        allow_outbound(server.url)
        yield server


@pytest.fixture
def hook_for(tenant):
    """hook_for(url, events=[...]) → an active webhook of `tenant` signing with SECRET, one of its secrets."""
    secret_set(tenant=tenant, name="ACME_WEBHOOK_SECRET", value=SECRET, actor=Actor.system("test"))

    def make(url, events=("approval.requested",)):
        return Webhook.objects.create(tenant=tenant, name="ops", url=url, secret="{{ secret:ACME_WEBHOOK_SECRET }}",
                                      events=list(events))

    return make


class Clock:
    """Moves the time every caller of django.utils.timezone.now sees (the broker's too) forward;
    it runs on from there."""

    def __init__(self, monkeypatch):
        self._real_now, self._offset = timezone.now, timedelta(0)
        monkeypatch.setattr(timezone, "now", self.now)

    def now(self) -> datetime:
        return self._real_now() + self._offset

    def set(self, moment: datetime) -> None:
        self._offset = moment - self._real_now()


@pytest.fixture
def clock(monkeypatch):
    return Clock(monkeypatch)


class InlineWorker:
    """Takes the tasks the broker hands out now and runs them in this process, as a worker would."""

    def run_due(self) -> list[tuple[str, tuple]]:
        broker, ran = get_broker(), []
        while broker.queue_size():
            taken = broker.dequeue()
            if not taken:
                break
            for task_id, payload in taken:
                task = SignedPackage.loads(payload)
                module, name = task["func"].rsplit(".", 1)
                getattr(import_module(module), name)(*task["args"], **task["kwargs"])
                broker.acknowledge(task_id)
                ran.append((task["func"], task["args"]))
        return ran


@pytest.fixture
def worker():
    return InlineWorker()
