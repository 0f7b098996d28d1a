"""Tool adapters: one module per kind of tool, all behind `tools.adapters.base.Adapter`.

`ADAPTERS` maps a tool's `kind` to its adapter class; `get_adapter` builds one from a stored
configuration. The gateway builds the "python" adapter itself, to give it the call's context.
"""

from __future__ import annotations

from agentops.secrets.resolver import SecretResolver
from tools.adapters.base import Adapter, AdapterError, Delivery, Invocation
from tools.adapters.graphql import GraphQLAdapter
from tools.adapters.grpc import GrpcAdapter
from tools.adapters.http import HttpAdapter
from tools.adapters.mcp import McpAdapter
from tools.adapters.python import PythonAdapter
from tools.adapters.sql import SqlAdapter

ADAPTERS: dict[str, type[Adapter]] = {
    adapter.kind: adapter
    for adapter in (HttpAdapter, GraphQLAdapter, SqlAdapter, McpAdapter, GrpcAdapter, PythonAdapter)
}


def get_adapter(kind: str, config: dict, secrets: SecretResolver) -> Adapter:
    """An adapter for `kind`; ValueError for an unknown kind or an invalid configuration."""
    try:
        adapter_class = ADAPTERS[kind]
    except KeyError:
        raise ValueError(
            f"Unknown tool kind {kind!r}; known kinds: {', '.join(sorted(ADAPTERS))}."
        ) from None
    return adapter_class(config, secrets)


__all__ = ["ADAPTERS", "Adapter", "AdapterError", "Delivery", "Invocation", "get_adapter"]
