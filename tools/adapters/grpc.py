"""gRPC tools: one unary call, with message types from server reflection or a descriptor set.

Configuration:
    target          "host:port"
    method          "package.Service/Method"
    descriptor_set  optional: base64 of a FileDescriptorSet holding the service and everything it
                    imports (`protoc --include_imports --descriptor_set_out=...`); without it the
                    types are read from the server's reflection service on every call
    metadata        {"authorization": "Bearer {{ secret:TOKEN }}"}: lowercase keys
    tls             false (default) for a plaintext channel, true for TLS with the system roots

A tenant's tool (guarded) resolves and checks the target's host with `agentops.outbound` and
connects the channel to the first checked address, keeping the name as the call's authority and,
with TLS, as the name the certificate must match; its target must be "host:port" (or
"dns:///host:port"), and gRPC's proxy variables are ignored. A refused address is final.

The JSON arguments become the request message (`ParseDict`; an unknown field is a non-retryable
error) and the response comes back as a dict keyed by the proto field names, zero values included.
The idempotency key travels as the `idempotency-key` metadata entry. The invocation timeout bounds
the whole attempt, reflection included.

Retryable: UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED and ABORTED. INTERNAL is not: it
reports a broken invariant in the server (a bug, per the gRPC status code guide and Google's
AIP-194), which repeating the call does not fix, while connection-level failures surface as
UNAVAILABLE. A `grpc-retry-pushback-ms` trailer becomes `retry_after`.

Delivery (tools.adapters.base): the channel is connected (and reflection read) before the method
is called, so failing to connect, reflection errors and unfit arguments are `not_sent`. The
method's statuses that answer the call — INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS,
PERMISSION_DENIED, UNAUTHENTICATED, FAILED_PRECONDITION, OUT_OF_RANGE, UNIMPLEMENTED, and the
rejections RESOURCE_EXHAUSTED and ABORTED — are `sent`; the others (DEADLINE_EXCEEDED, UNAVAILABLE
once connected, CANCELLED, INTERNAL, UNKNOWN, DATA_LOSS) leave it unknown: `maybe_sent`.
"""

from __future__ import annotations

import base64
import binascii
import collections
import queue
import re
import time
from typing import Any

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.descriptor_database import DescriptorDatabase
from google.protobuf.json_format import MessageToDict, ParseDict, ParseError
from google.protobuf.message import DecodeError
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

from agentops.outbound import REFUSED, OutboundRefused, address_check
from agentops.secrets.references import REFERENCE
from tools.adapters.base import Adapter, AdapterError, Delivery, Invocation, require_str, require_str_map

RETRYABLE_CODES = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.ABORTED,
    }
)
# Statuses by which the server answers that it did not carry out the call.
ANSWERED_CODES = frozenset(
    {
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.ALREADY_EXISTS,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.UNAUTHENTICATED,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.OUT_OF_RANGE,
        grpc.StatusCode.UNIMPLEMENTED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.ABORTED,
    }
)
_METHOD = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)/([A-Za-z_][A-Za-z0-9_]*)$")
_METADATA_KEY = re.compile(r"^[0-9a-z_.\-]+$")
# "host:port", "[::1]:port" or "dns:///host:port"; gRPC's default port is 443.
_HOST_PORT_TARGET = re.compile(r"^(?:dns:(?://[^/]*/)?)?(\[[^\]]+\]|[^:/\[\]]+)(?::(\d{1,5}))?$")


class GrpcAdapter(Adapter):
    kind = "grpc"

    @classmethod
    def validate_config(cls, config: dict) -> None:
        super().validate_config(config)
        require_str(config, "target", kind="grpc")
        if not _METHOD.match(require_str(config, "method", kind="grpc")):
            raise ValueError("grpc tool: 'method' must look like \"package.Service/Method\".")
        for key in require_str_map(config, "metadata", kind="grpc"):
            if not _METADATA_KEY.match(key) or key.startswith("grpc-") or key.endswith("-bin"):
                raise ValueError(
                    f"grpc tool: metadata key {key!r} must be lowercase ASCII, not grpc-* or *-bin."
                )
        if not isinstance(config.get("tls", False), bool):
            raise ValueError("grpc tool: 'tls' must be true or false.")
        if config.get("descriptor_set"):
            pool = pool_from_descriptor_set(config["descriptor_set"])
            try:
                find_unary_method(pool, config["method"])
            except LookupError as exc:
                raise ValueError(f"grpc tool: {exc.args[0]}") from None

    @classmethod
    def outbound_target(cls, config: dict) -> tuple[str, int] | None:
        """Raises ValueError for a target that names no host and port (unix:, ipv4:, ...), which a
        tenant's tool may not use: it could not be checked."""
        target = config.get("target")
        if not isinstance(target, str) or REFERENCE.search(target):
            return None
        match = _HOST_PORT_TARGET.match(target.strip())
        if match is None:
            raise ValueError("grpc tool: the 'target' of a tenant's tool must be host:port or dns:///host:port.")
        return match.group(1).strip("[]"), int(match.group(2) or 443)

    def call(self, invocation: Invocation) -> Any:
        deadline = time.monotonic() + invocation.timeout
        metadata = list(self.resolve_secrets(self.config.get("metadata") or {}).items())
        metadata.append(("idempotency-key", invocation.idempotency_key))
        service_name, method_name = self.config["method"].split("/")

        with self._channel() as channel:
            try:
                if self.config.get("descriptor_set"):
                    pool = pool_from_descriptor_set(self.config["descriptor_set"])
                else:
                    # The reflection stream carries no deadline of its own; bound it by ours.
                    reflection = grpc.intercept_channel(channel, _Deadline(deadline))
                    pool = descriptor_pool.DescriptorPool(ProtoReflectionDescriptorDatabase(reflection))
                method = find_unary_method(pool, self.config["method"])
            except LookupError as exc:
                raise self.unsent(exc.args[0]) from None
            except grpc.RpcError as exc:
                error = self._status_error(exc, "Server reflection failed", delivery=Delivery.NOT_SENT)
                if error.status == grpc.StatusCode.UNIMPLEMENTED.value[0]:
                    error.args = (error.message + " (no reflection service: configure 'descriptor_set')",)
                raise error from None

            request_class = message_factory.GetMessageClass(method.input_type)
            response_class = message_factory.GetMessageClass(method.output_type)
            try:
                request = ParseDict(invocation.arguments, request_class(), descriptor_pool=pool)
            except ParseError as exc:
                raise self.unsent(f"The arguments do not fit {method.input_type.full_name}: {exc}") from None
            self._connect(channel, deadline)

            stub = channel.unary_unary(
                f"/{service_name}/{method_name}",
                request_serializer=request_class.SerializeToString,
                response_deserializer=response_class.FromString,
            )
            try:
                response = stub(
                    request, timeout=max(0.001, deadline - time.monotonic()), metadata=metadata
                )
            except grpc.RpcError as exc:
                raise self._status_error(exc, self.config["method"]) from None

        result = MessageToDict(
            response,
            preserving_proto_field_name=True,
            always_print_fields_with_no_presence=True,
            descriptor_pool=pool,
        )
        return self.secrets.redact(result)

    def _channel(self) -> grpc.Channel:
        target, options = self.config["target"], []
        if self.guarded:
            target, options = self._checked_target()
        if self.config.get("tls"):
            return grpc.secure_channel(target, grpc.ssl_channel_credentials(), options)
        return grpc.insecure_channel(target, options)

    def _connect(self, channel: grpc.Channel, deadline: float) -> None:
        """Connect the channel before the call, so that failing to connect is known to have sent
        nothing. Fails at the first failed connection attempt, as a call without wait-for-ready does."""
        settled: queue.SimpleQueue = queue.SimpleQueue()

        def watch(state: grpc.ChannelConnectivity) -> None:
            if state in (grpc.ChannelConnectivity.READY, grpc.ChannelConnectivity.TRANSIENT_FAILURE):
                settled.put(state)

        channel.subscribe(watch, try_to_connect=True)
        try:
            state = settled.get(timeout=max(0.001, deadline - time.monotonic()))
        except queue.Empty:
            state = None
        finally:
            channel.unsubscribe(watch)
        if state != grpc.ChannelConnectivity.READY:
            raise self.unsent(f"Cannot connect to {self.config['target']}"
                              + (" before the call's deadline." if state is None else "."), retryable=True)

    def _checked_target(self) -> tuple[str, list[tuple[str, Any]]]:
        """The checked address to connect to, and the channel options that keep the host name."""
        try:
            host, port = self.outbound_target(self.config)
            address = address_check(host, port)[0]
        except ValueError as exc:  # a target that cannot be checked is refused like a forbidden one
            raise self.unsent(str(exc), code=REFUSED) from None
        except OutboundRefused as refusal:
            raise self.refused(refusal) from None
        except OSError as exc:
            raise self.unsent(f"Cannot resolve {host}: {exc}", retryable=True) from None
        authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        options: list[tuple[str, Any]] = [("grpc.default_authority", authority), ("grpc.enable_http_proxy", 0)]
        if self.config.get("tls"):
            options.append(("grpc.ssl_target_name_override", host))
        shown = f"[{address}]" if address.version == 6 else str(address)
        return f"ipv{address.version}:{shown}:{port}", options

    def _status_error(self, exc: grpc.RpcError, what: str, *, delivery: Delivery | None = None) -> AdapterError:
        code = exc.code() if hasattr(exc, "code") else grpc.StatusCode.UNKNOWN
        details = exc.details() if hasattr(exc, "details") else str(exc)
        retry_after = None
        trailers = exc.trailing_metadata() if hasattr(exc, "trailing_metadata") else None
        for key, value in trailers or ():
            if key == "grpc-retry-pushback-ms" and str(value).isdigit():
                retry_after = int(value) / 1000
        return self.error(
            f"{what}: {code.name}: {details}",
            retryable=code in RETRYABLE_CODES,
            status=code.value[0],
            retry_after=retry_after,
            delivery=delivery or (Delivery.SENT if code in ANSWERED_CODES else Delivery.MAYBE_SENT),
        )


def pool_from_descriptor_set(encoded: str) -> descriptor_pool.DescriptorPool:
    """A descriptor pool over a base64 FileDescriptorSet; ValueError if it cannot be read."""
    try:
        files = descriptor_pb2.FileDescriptorSet.FromString(base64.b64decode(encoded, validate=True))
    except (binascii.Error, ValueError, DecodeError, TypeError):
        raise ValueError("grpc tool: 'descriptor_set' is not a base64 FileDescriptorSet.") from None
    database = DescriptorDatabase()
    for file in files.file:
        database.Add(file)
    # Backed by a database, the pool resolves imports lazily, whatever order the files are in.
    return descriptor_pool.DescriptorPool(database)


def find_unary_method(pool: descriptor_pool.DescriptorPool, full_method: str):
    """The MethodDescriptor for "package.Service/Method"; LookupError if absent or streaming."""
    service_name, method_name = full_method.split("/")
    try:
        service = pool.FindServiceByName(service_name)
    except (KeyError, AssertionError, TypeError):
        # KeyError: unknown; AssertionError: the reflection client's reaction to odd replies;
        # TypeError: a descriptor set whose imports are missing.
        raise LookupError(f"Service {service_name!r} is not known to the server or descriptor set.") from None
    method = service.methods_by_name.get(method_name)
    if method is None:
        raise LookupError(f"Service {service_name!r} has no method {method_name!r}.")
    if method.client_streaming or method.server_streaming:
        raise LookupError(f"{full_method} is a streaming method; only unary methods are supported.")
    return method


_CallDetails = collections.namedtuple(
    "_CallDetails", ("method", "timeout", "metadata", "credentials", "wait_for_ready", "compression")
)


class _ClientCallDetails(_CallDetails, grpc.ClientCallDetails):
    pass


class _Deadline(grpc.StreamStreamClientInterceptor):
    """Gives every stream-stream call on the channel the time left until `deadline`."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline

    def intercept_stream_stream(self, continuation, client_call_details, request_iterator):
        details = _ClientCallDetails(
            client_call_details.method,
            max(0.001, self.deadline - time.monotonic()),
            client_call_details.metadata,
            client_call_details.credentials,
            client_call_details.wait_for_ready,
            client_call_details.compression,
        )
        return continuation(details, request_iterator)
