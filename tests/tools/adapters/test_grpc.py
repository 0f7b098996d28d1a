import base64

import pytest

from agentops import outbound
from agentops.retry import RetryPolicy, call_with_retries
from tests.support.outbound import Resolver
from tests.support.tool_servers import INVENTORY_SERVICE, GrpcInventoryServer
from tests.tools.adapters.conftest import TOKEN
from tools.adapters.base import AdapterError, Delivery, Invocation
from tools.adapters.grpc import GrpcAdapter

KEY = "run-9:2"
GET_ITEM = f"{INVENTORY_SERVICE}/GetItem"


def invoke(adapter, arguments, *, timeout=5.0):
    return adapter.call(Invocation(arguments, KEY, timeout))


def with_retries(adapter, arguments):
    return call_with_retries(
        lambda attempt: invoke(adapter, arguments),
        RetryPolicy(max_attempts=3, base_delay=0.0),
        is_retryable=lambda exc: isinstance(exc, AdapterError) and exc.retryable,
        sleep=lambda delay: None,
    )


def test_call_via_reflection_returns_the_response_as_a_dict(grpc_server, secrets):
    # Given a server with reflection and a tool with no descriptors of its own
    adapter = GrpcAdapter({"target": grpc_server.target, "method": GET_ITEM}, secrets)

    # When it is called
    result = invoke(adapter, {"sku": "A-1", "quantity": 2})

    # Then the response comes back under the proto field names, zero values included
    assert result == {"sku": "A-1", "quantity": 2, "idempotency_key": KEY, "authorization": ""}


def test_call_via_descriptor_set_needs_no_reflection(grpc_server_without_reflection, secrets):
    # Given a server without reflection and a tool carrying the descriptor set
    server = grpc_server_without_reflection
    adapter = GrpcAdapter(
        {"target": server.target, "method": GET_ITEM, "descriptor_set": server.descriptor_set_b64}, secrets
    )

    # When it is called
    result = invoke(adapter, {"sku": "B-2"})

    # Then the call succeeds from the descriptor set alone
    assert result["sku"] == "B-2" and result["quantity"] == 0


def test_idempotency_key_and_secret_metadata_reach_the_server(grpc_server, secrets):
    # Given a tool sending a secret as metadata
    adapter = GrpcAdapter(
        {
            "target": grpc_server.target,
            "method": GET_ITEM,
            "metadata": {"authorization": "Bearer {{ secret:CRM_TOKEN }}"},
        },
        secrets,
    )

    # When it is called
    result = invoke(adapter, {"sku": "A-1"})

    # Then the server received both, and the echoed token is redacted in the result
    assert grpc_server.calls[-1]["idempotency-key"] == KEY
    assert grpc_server.calls[-1]["authorization"] == f"Bearer {TOKEN}"
    assert result["authorization"] == "Bearer [secret:CRM_TOKEN]"


def test_unavailable_is_retryable(grpc_server, secrets):
    # Given a server that answers UNAVAILABLE
    adapter = GrpcAdapter({"target": grpc_server.target, "method": GET_ITEM}, secrets)

    # When it is called
    with pytest.raises(AdapterError) as caught:
        invoke(adapter, {"sku": "unavailable"})

    # Then the error is retryable and names the status; the server got the call, so it may have acted
    assert caught.value.retryable is True and caught.value.delivery == Delivery.MAYBE_SENT
    assert "UNAVAILABLE: inventory is restarting" in caught.value.message


def test_invalid_argument_is_not_retried(grpc_server, secrets):
    # Given a server that rejects an empty SKU
    adapter = GrpcAdapter({"target": grpc_server.target, "method": GET_ITEM}, secrets)

    # When the gateway calls it with retries
    with pytest.raises(AdapterError) as caught:
        with_retries(adapter, {"sku": ""})

    # Then it is permanent, an answer that nothing was done, and the server was called once
    assert caught.value.retryable is False and caught.value.delivery == Delivery.SENT
    assert "INVALID_ARGUMENT: sku is required" in caught.value.message
    assert len(grpc_server.calls) == 1


def test_unknown_argument_field_is_refused_before_calling(grpc_server, secrets):
    # Given a tool call with a field the request message does not have
    adapter = GrpcAdapter({"target": grpc_server.target, "method": GET_ITEM}, secrets)

    # When it is called
    with pytest.raises(AdapterError) as caught:
        invoke(adapter, {"sku": "A-1", "colour": "red"})

    # Then it is permanent and the method was never invoked
    assert caught.value.retryable is False and "colour" in caught.value.message
    assert caught.value.delivery == Delivery.NOT_SENT
    assert grpc_server.calls == []


def test_unreachable_server_is_retryable(secrets, allow_outbound):
    # Given nothing listening on the target
    allow_outbound("127.0.0.1:1")
    adapter = GrpcAdapter({"target": "127.0.0.1:1", "method": GET_ITEM}, secrets)

    # When it is called
    with pytest.raises(AdapterError) as caught:
        invoke(adapter, {"sku": "A-1"}, timeout=2.0)

    # Then the failure is retryable, and known to have sent nothing
    assert caught.value.retryable is True and caught.value.delivery == Delivery.NOT_SENT


def test_validate_config_refuses_a_streaming_method(grpc_server):
    # Given/When a descriptor set whose method streams
    # Then the configuration is refused on save
    with pytest.raises(ValueError, match="streaming"):
        GrpcAdapter.validate_config(
            {
                "target": grpc_server.target,
                "method": f"{INVENTORY_SERVICE}/WatchItem",
                "descriptor_set": grpc_server.descriptor_set_b64,
            }
        )


def test_validate_config_refuses_a_descriptor_set_without_the_service():
    # Given/When a descriptor set that is not a FileDescriptorSet for the service
    # Then the configuration is refused on save
    with pytest.raises(ValueError, match="descriptor_set"):
        GrpcAdapter.validate_config(
            {"target": "localhost:1", "method": GET_ITEM, "descriptor_set": base64.b64encode(b"\xff").decode()}
        )


# Outbound checks (agentops.outbound): a tenant's tool is guarded, a global one is not


@pytest.fixture
def unallowed_grpc_server(inventory_descriptor_set):
    """A gRPC server on 127.0.0.1 that nothing allows; it records every call."""
    server = GrpcInventoryServer(inventory_descriptor_set, reflection=True).start()
    yield server
    server.stop()


def test_a_guarded_call_to_loopback_is_refused_and_nothing_arrives(unallowed_grpc_server, tenant_secrets):
    server = unallowed_grpc_server
    config = {"target": server.target, "method": GET_ITEM, "descriptor_set": server.descriptor_set_b64}

    with pytest.raises(AdapterError) as caught:
        invoke(GrpcAdapter(config, tenant_secrets), {"sku": "A-1"})

    assert caught.value.code == "outbound_address_refused" and caught.value.retryable is False
    assert "127.0.0.1, which is loopback" in caught.value.message
    assert server.calls == []


def test_an_unguarded_call_reaches_the_same_server(unallowed_grpc_server, secrets):
    server = unallowed_grpc_server
    config = {"target": server.target, "method": GET_ITEM, "descriptor_set": server.descriptor_set_b64}

    assert invoke(GrpcAdapter(config, secrets), {"sku": "A-1"})["sku"] == "A-1"
    assert len(server.calls) == 1


def test_a_guarded_call_by_name_connects_to_the_checked_address(grpc_server, tenant_secrets, settings, monkeypatch):
    # Given a name the platform allows, resolving to the server's address
    settings.AGENTOPS_OUTBOUND_ALLOW = ["inventory.internal"]
    resolver = Resolver(["127.0.0.1"])
    monkeypatch.setattr(outbound, "resolve", resolver)
    config = {"target": f"dns:///inventory.internal:{grpc_server.port}", "method": GET_ITEM}

    # When it is called
    result = invoke(GrpcAdapter(config, tenant_secrets), {"sku": "A-1"})

    # Then the channel went to the address resolved once (gRPC's own resolver knows no such name)
    assert result["sku"] == "A-1" and resolver.calls == 1


def test_a_guarded_call_to_a_target_that_names_no_host_is_refused(tenant_secrets):
    adapter = GrpcAdapter({"target": "unix:/run/internal.sock", "method": GET_ITEM}, tenant_secrets)

    with pytest.raises(AdapterError) as caught:
        invoke(adapter, {"sku": "A-1"})

    assert caught.value.code == "outbound_address_refused" and caught.value.retryable is False
