"""Python tools: functions registered with `@tool`, their schemas derived from type hints.

    from typing import Annotated
    from pydantic import Field
    from tools.registry import ToolContext, ToolError, tool

    @tool(name="orders.lookup", description="Look up an order by its id.", idempotent=True)
    def orders_lookup(ctx: ToolContext, order_id: Annotated[str, Field(description="e.g. 1042")]) -> dict:
        ...

The arguments' JSON Schema comes from the parameters' type hints (pydantic); a single parameter
typed with a pydantic model is used as the whole arguments object instead. A parameter typed
`ToolContext` is not an argument: it receives the tenant, run and user of the call. Unknown
arguments are refused (`additionalProperties: false`). Raise `ToolError` for an expected failure
the model should read ("no order 9999"; it is `tools.errors.ToolError`); any other exception is
reported as a tool failure too.

Registering only fills the in-process `REGISTRY`; `tools.services.tool_sync` writes the global
Tool rows (at migrate time and from seed_demo / the worker). Modules of tools are imported at
start-up from `settings.AGENTOPS_TOOL_MODULES` (see `tools.apps`).
"""

from __future__ import annotations

import inspect
import typing
from dataclasses import dataclass, field
from typing import Any, Callable

from pydantic import BaseModel, ConfigDict, create_model
from pydantic_core import to_jsonable_python

from tools.errors import ToolError  # noqa: F401  (what a tool raises; its authors import it from here)
from tools.models import ApprovalPolicy, Effect, ToolKind, is_valid_name
from tools.policy import ConditionError, condition_check


@dataclass(frozen=True)
class ToolContext:
    """Who a Python tool works for. `run` is None outside a run (e.g. a call from a test or shell)."""

    tenant: Any
    run: Any = None
    user: Any = None
    idempotency_key: str = ""


@dataclass(frozen=True)
class PythonTool:
    """A registered function and everything the registry row is made from."""

    name: str
    description: str
    function: Callable
    arguments_model: type[BaseModel]
    context_parameter: str | None
    model_parameter: str | None  # set when one pydantic-model parameter takes all the arguments
    effect: str
    idempotent: bool
    input_schema: dict
    output_schema: dict | None
    policy_defaults: dict = field(default_factory=dict)  # the row's policies when `tool_sync` creates it

    @property
    def callable_path(self) -> str:
        return f"{self.function.__module__}.{self.function.__qualname__}"

    def definition(self) -> dict:
        """The Tool row fields the code owns; `tool_sync` keeps the row equal to these."""
        return {
            "description": self.description,
            "input_schema": self.input_schema,
            "output_schema": self.output_schema,
            "kind": ToolKind.PYTHON,
            "config": {"callable": self.callable_path},
            "idempotent": self.idempotent,
            "effect": self.effect,
        }

    def call(self, context: ToolContext, arguments: dict) -> Any:
        """Validate `arguments` with the derived model, call the function, return JSON-able data."""
        parsed = self.arguments_model.model_validate(arguments)
        if self.model_parameter:
            kwargs = {self.model_parameter: parsed}
        else:
            kwargs = {name: getattr(parsed, name) for name in type(parsed).model_fields}
        if self.context_parameter:
            kwargs[self.context_parameter] = context
        return to_jsonable_python(self.function(**kwargs))


REGISTRY: dict[str, PythonTool] = {}


def tool(
    *,
    name: str,
    description: str | None = None,
    effect: str = Effect.READ,
    idempotent: bool = False,
    approval: str = "never",
    timeout_seconds: float | None = None,
    output_schema: dict | None = None,
) -> Callable[[Callable], Callable]:
    """Register the decorated function as the Python tool `name`; returns the function unchanged.

    `approval` is "never", "always" or "when <condition>" (e.g. "when amount > 100"). It and
    `timeout_seconds` only set the row's initial policy: after that the admin owns policies.
    `description` defaults to the docstring. Registering the same name twice (e.g. a module
    re-imported by the autoreloader) keeps the latest function.
    """

    def register(function: Callable) -> Callable:
        python_tool = build_python_tool(
            function, name=name, description=description, effect=effect, idempotent=idempotent,
            approval=approval, timeout_seconds=timeout_seconds, output_schema=output_schema,
        )
        REGISTRY[name] = python_tool
        return function

    return register


def build_python_tool(function: Callable, *, name: str, description: str | None, effect: str, idempotent: bool,
                      approval: str, timeout_seconds: float | None, output_schema: dict | None) -> PythonTool:
    """The PythonTool for `function`; ValueError (at import time) for a definition that cannot work."""
    if not is_valid_name(name):
        raise ValueError(f"@tool name {name!r}: use lower-case words joined by dots, e.g. crm.lookup_customer.")
    if effect not in Effect.values:
        raise ValueError(f"@tool {name}: effect must be one of {', '.join(Effect.values)}.")
    text = (description or inspect.getdoc(function) or "").strip()
    if not text:
        raise ValueError(f"@tool {name}: give a description (or a docstring) the model can read.")
    policy, condition = parse_approval(approval, name=name)
    model, context_parameter, model_parameter = arguments_model(function, name=name)
    input_schema = json_schema(model)
    if condition:
        try:
            condition_check(condition, names=list(input_schema["properties"]))
        except ConditionError as exc:
            raise ValueError(f"@tool {name}: approval condition: {exc}") from None
    return PythonTool(
        name=name, description=text, function=function, arguments_model=model,
        context_parameter=context_parameter, model_parameter=model_parameter, effect=effect,
        idempotent=idempotent, input_schema=input_schema, output_schema=output_schema or _output_schema(function),
        policy_defaults={"approval": policy, "approval_condition": condition,
                         **({"timeout_seconds": timeout_seconds} if timeout_seconds else {})},
    )


def parse_approval(approval: str, *, name: str) -> tuple[str, str]:
    """("when", "amount > 100") from "when amount > 100"; ("never", "") from "never"."""
    text = approval.strip()
    if text in (ApprovalPolicy.NEVER, ApprovalPolicy.ALWAYS):
        return text, ""
    keyword, _, condition = text.partition(" ")
    if keyword != ApprovalPolicy.WHEN or not condition.strip():
        raise ValueError(f'@tool {name}: approval must be "never", "always" or "when <condition>".')
    return ApprovalPolicy.WHEN, condition.strip()


def arguments_model(function: Callable, *, name: str) -> tuple[type[BaseModel], str | None, str | None]:
    """(model of the arguments, name of the ToolContext parameter, name of a whole-model parameter)."""
    hints = typing.get_type_hints(function, include_extras=True)
    fields: dict[str, Any] = {}
    context_parameter = None
    for parameter in inspect.signature(function).parameters.values():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            raise ValueError(f"@tool {name}: *args and **kwargs cannot be described to a model.")
        hint = hints.get(parameter.name)
        if hint is None:
            raise ValueError(f"@tool {name}: annotate the parameter {parameter.name!r} with its type.")
        if hint is ToolContext:
            context_parameter = parameter.name
            continue
        default = ... if parameter.default is parameter.empty else parameter.default
        fields[parameter.name] = (hint, default)
    if len(fields) == 1:
        (only, (hint, _)), = fields.items()
        if inspect.isclass(hint) and issubclass(hint, BaseModel):
            return hint, context_parameter, only
    model_name = "".join(part.title() for part in name.replace(".", "_").split("_")) + "Arguments"
    model = create_model(model_name, __config__=ConfigDict(extra="forbid"), **fields)
    return model, context_parameter, None


def json_schema(model: type[BaseModel]) -> dict:
    """The model's JSON Schema without pydantic's generated titles (noise in a prompt)."""
    schema = _without_titles(model.model_json_schema())
    schema.setdefault("properties", {})
    return schema


def _output_schema(function: Callable) -> dict | None:
    """A return annotation that is a pydantic model becomes the output schema."""
    returned = typing.get_type_hints(function).get("return")
    if inspect.isclass(returned) and issubclass(returned, BaseModel):
        return json_schema(returned)
    return None


_SUBSCHEMA_MAPS = ("properties", "$defs", "patternProperties")
_SUBSCHEMAS = ("items", "prefixItems", "anyOf", "allOf", "oneOf", "not", "additionalProperties", "if", "then", "else")


def _without_titles(schema: Any) -> Any:
    """Drop the "title" keyword from every schema node; property *names* called "title", and
    values such as defaults and examples, stay as they are."""
    if isinstance(schema, list):
        return [_without_titles(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    cleaned = {}
    for key, value in schema.items():
        if key == "title" and isinstance(value, str):
            continue
        if key in _SUBSCHEMA_MAPS and isinstance(value, dict):
            cleaned[key] = {name: _without_titles(sub) for name, sub in value.items()}
        elif key in _SUBSCHEMAS:
            cleaned[key] = _without_titles(value)
        else:
            cleaned[key] = value
    return cleaned


def python_tool_by_callable(path: str) -> PythonTool | None:
    """The registered tool whose function lives at `path`; only registered functions are callable."""
    return next((entry for entry in REGISTRY.values() if entry.callable_path == path), None)
