"""Push notices: `notify_*` on the channel layer and the websocket consumers that forward them."""

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.db import transaction
from django.test import Client

from agentops.asgi import application
from agentops.tenancy.roles import Role
from runs import live
from runs.consumers import CLOSE_NOT_FOUND, CLOSE_UNAUTHORISED
from tests.factories import AgentFactory
from tests.support.runs_journal import make_run


@pytest.fixture(autouse=True)
def in_memory_layer(settings):
    """These tests read the layer's queues directly: the in-memory layer, whatever REDIS_URL says."""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


def session_cookie(user) -> list[tuple[bytes, bytes]]:
    client = Client()
    client.force_login(user)
    return [(b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())]


def listen(group: str):
    """Join `group` on the in-memory layer as a consumer would; returns a receive function."""
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(group, channel)
    return lambda: async_to_sync(layer.receive)(channel)


# -- notify ------------------------------------------------------------------------------------


def test_notify_without_listeners_is_a_no_op():
    live.notify_run_changed("00000000-0000-0000-0000-000000000000", 3)  # nothing to send to, nothing raised
    assert not get_channel_layer().groups.get(live.run_group("00000000-0000-0000-0000-000000000000"))


@pytest.mark.django_db(transaction=True)
def test_run_notice_is_published_only_after_the_commit():
    receive = listen(live.run_group("run-1"))
    layer = get_channel_layer()

    with transaction.atomic():
        live.notify_run_changed("run-1", 7)
        assert layer.channels == {} or all(queue.empty() for queue in layer.channels.values())

    assert receive() == {"type": "run.changed", "run": "run-1", "seq": 7}


@pytest.mark.django_db(transaction=True)
def test_inbox_notice_goes_to_the_tenants_group():
    receive = listen(live.inbox_group(42))

    live.notify_inbox_changed(42)

    assert receive() == {"type": "inbox.changed", "tenant": 42}


def test_a_shared_layer_gets_notices_from_a_background_loop_and_errors_are_only_logged(caplog):
    class Broken:  # a shared layer whose server is down
        async def group_send(self, group, message):
            raise ConnectionError("redis is down")

    sent = live._send(Broken(), "run.1", {"type": live.RUN_CHANGED})  # the caller does not wait for it

    assert sent.result(timeout=5) is None
    assert "could not publish run.changed to run.1" in caplog.text


# -- websocket consumers -----------------------------------------------------------------------

# The consumers read the database from another thread, which sees only committed rows.
websocket_db = pytest.mark.django_db(transaction=True)


async def connect(path: str, headers=()):
    communicator = WebsocketCommunicator(application, path, headers=list(headers))
    connected, code = await communicator.connect()
    return communicator, connected, code


@websocket_db
def test_run_socket_forwards_a_changed_ping(operator, agent):
    run = make_run(agent)
    headers = session_cookie(operator)

    async def scenario():
        communicator, connected, _ = await connect(f"/ws/runs/{run.pk}/", headers)
        assert connected
        # As the engine does: a sync call after the step's commit, from worker code.
        await sync_to_async(live.notify_run_changed)(run.pk, 5)
        message = await communicator.receive_json_from(timeout=2)
        await communicator.disconnect()
        return message

    assert async_to_sync(scenario)() == {"type": "changed", "seq": 5}


@websocket_db
def test_run_socket_refuses_an_anonymous_browser(agent):
    run = make_run(agent)

    async def scenario():
        communicator, connected, code = await connect(f"/ws/runs/{run.pk}/")
        return connected, code

    assert async_to_sync(scenario)() == (False, CLOSE_UNAUTHORISED)


@websocket_db
def test_run_socket_refuses_another_tenants_run(operator, other_tenant):
    foreign = make_run(AgentFactory(tenant=other_tenant))
    headers = session_cookie(operator)

    async def scenario():
        communicator, connected, code = await connect(f"/ws/runs/{foreign.pk}/", headers)
        return connected, code

    assert async_to_sync(scenario)() == (False, CLOSE_NOT_FOUND)
    assert not get_channel_layer().groups.get(live.run_group(foreign.pk))


@websocket_db
def test_inbox_socket_forwards_the_tenants_pings_only(member, tenant, other_tenant):
    viewer = member("vera", Role.VIEWER)
    headers = session_cookie(viewer)

    async def scenario():
        communicator, connected, _ = await connect("/ws/inbox/", headers)
        assert connected
        await sync_to_async(live.notify_inbox_changed)(other_tenant.pk)
        assert await communicator.receive_nothing(timeout=0.3)
        await sync_to_async(live.notify_inbox_changed)(tenant.pk)
        message = await communicator.receive_json_from(timeout=2)
        await communicator.disconnect()
        return message

    assert async_to_sync(scenario)() == {"type": "changed"}


@websocket_db
def test_a_socket_opened_by_another_sites_page_is_refused(operator, agent, settings):
    settings.ALLOWED_HOSTS = ["agentops.example"]
    run = make_run(agent)
    cookie = session_cookie(operator)

    async def connected_from(*origin):
        communicator, connected, _ = await connect(f"/ws/runs/{run.pk}/", [*cookie, *origin])
        await communicator.disconnect()
        return connected

    async def scenario():
        return (await connected_from((b"origin", b"https://agentops.example")),
                await connected_from((b"origin", b"https://evil.example")),
                await connected_from())

    assert async_to_sync(scenario)() == (True, False, False)
    assert not get_channel_layer().groups.get(live.run_group(run.pk))
