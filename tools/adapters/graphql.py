"""GraphQL tools: one operation POSTed as JSON to a fixed endpoint.

Configuration:
    endpoint         "https://api.example.com/graphql" (may reference secrets)
    document         the query or mutation text
    operation_name   optional, for documents with several operations
    headers          may reference secrets
    variables        "arguments" (default: the arguments are the variables) or a mapping
                     {"graphqlVariable": "argumentName"}; unmapped arguments are not sent

Returns the response's `data`. A response with `errors` is a non-retryable AdapterError listing
the GraphQL messages, unless the HTTP status itself is retryable (408, 425, 429, 5xx).
Transport failures are classified as for HTTP tools.

Delivery (tools.adapters.base): a response with `errors` is `sent`: a complete GraphQL answer,
which says what was done (errors beside `data` name the fields that failed), so the outcome is
known; a success status without a GraphQL response is `maybe_sent`.
"""

from __future__ import annotations

from typing import Any

from tools.adapters.base import Adapter, Delivery, Invocation, require_str, require_str_map, url_target
from tools.adapters.http import is_retryable_status, send, status_error


class GraphQLAdapter(Adapter):
    kind = "graphql"

    @classmethod
    def validate_config(cls, config: dict) -> None:
        super().validate_config(config)
        endpoint = require_str(config, "endpoint", kind="graphql")
        if not endpoint.lower().startswith(("http://", "https://", "{{")):
            raise ValueError("graphql tool: 'endpoint' must be an http:// or https:// URL.")
        require_str(config, "document", kind="graphql")
        if config.get("operation_name") is not None and not isinstance(config["operation_name"], str):
            raise ValueError("graphql tool: 'operation_name' must be a string.")
        require_str_map(config, "headers", kind="graphql")
        variables = config.get("variables", "arguments")
        if variables != "arguments" and not (
            isinstance(variables, dict) and all(isinstance(v, str) for v in variables.values())
        ):
            raise ValueError(
                "graphql tool: 'variables' must be \"arguments\" or an object mapping "
                "variable names to argument names."
            )

    @classmethod
    def outbound_target(cls, config: dict) -> tuple[str, int] | None:
        return url_target(config.get("endpoint"))

    def call(self, invocation: Invocation) -> Any:
        endpoint = self.resolve_secrets(self.config["endpoint"])
        headers = {"Accept": "application/json"}
        headers.update(self.resolve_secrets(self.config.get("headers") or {}))
        headers["Idempotency-Key"] = invocation.idempotency_key
        payload: dict[str, Any] = {
            "query": self.config["document"],
            "variables": self._variables(invocation.arguments),
        }
        if self.config.get("operation_name"):
            payload["operationName"] = self.config["operation_name"]

        response = send(
            self, "POST", endpoint, timeout=invocation.timeout, headers=headers, json=payload
        )
        try:
            body = response.json()
        except ValueError:
            body = None
        errors = body.get("errors") if isinstance(body, dict) else None
        status = response.status_code

        if errors and not is_retryable_status(status):
            # GraphQL-over-HTTP servers answer validation errors with 200 or 400 alike; either
            # way the same document and variables will fail again.
            raise self.error(f"GraphQL errors: {_messages(errors)}", retryable=False, status=status,
                             delivery=Delivery.SENT)
        if not response.is_success:
            raise status_error(self, "POST", endpoint, response)
        if not isinstance(body, dict):
            raise self.error(
                f"POST {endpoint} did not return a GraphQL JSON response.", retryable=False, status=status
            )
        return self.secrets.redact(body.get("data"))

    def _variables(self, arguments: dict) -> dict:
        mapping = self.config.get("variables", "arguments")
        if mapping == "arguments":
            return dict(arguments)
        return {var: arguments[arg] for var, arg in mapping.items() if arg in arguments}


def _messages(errors: Any) -> str:
    if not isinstance(errors, list):
        return str(errors)
    parts = []
    for error in errors:
        message = error.get("message") if isinstance(error, dict) else None
        path = error.get("path") if isinstance(error, dict) else None
        text = str(message if message is not None else error)
        parts.append(f"{text} (at {'.'.join(map(str, path))})" if path else text)
    return "; ".join(parts)
