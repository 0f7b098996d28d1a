"""@tool: schemas derived from type hints, definitions checked at import time, rows synced."""

from typing import Annotated, Literal

import pytest
from pydantic import BaseModel, Field

from agentops.audit.models import AuditEvent
from tools.models import Tool
from tools.registry import REGISTRY, ToolContext, build_python_tool, tool
from tools.services import tool_sync, tool_update

from .conftest import ACTOR


def build(function, **options):
    defaults = {"name": "test.fn", "description": None, "effect": "read", "idempotent": False,
                "approval": "never", "timeout_seconds": None, "output_schema": None}
    return build_python_tool(function, **{**defaults, **options})


def test_input_schema_comes_from_the_type_hints():
    # Given a function with typed parameters, defaults, a Literal and a context parameter
    def lookup(ctx: ToolContext, order_id: Annotated[str, Field(description="The order id.")], limit: int = 3,
               status: Literal["open", "closed"] = "open") -> dict:
        """Look up orders."""

    # When it is registered
    schema = build(lookup).input_schema

    # Then the arguments are described, the context is not, and unknown arguments are refused
    assert schema["type"] == "object"
    assert schema["required"] == ["order_id"]
    assert schema["properties"]["order_id"] == {"type": "string", "description": "The order id."}
    assert schema["properties"]["limit"] == {"type": "integer", "default": 3}
    assert schema["properties"]["status"]["enum"] == ["open", "closed"]
    assert "ctx" not in schema["properties"]
    assert schema["additionalProperties"] is False


def test_a_pydantic_model_parameter_is_the_whole_arguments_object():
    # Given a function taking one pydantic model
    class Refund(BaseModel):
        order_id: str
        amount: float = Field(gt=0)

    def refund(ctx: ToolContext, request: Refund) -> dict:
        """Refund."""
        return {"order": request.order_id, "amount": request.amount}

    # When it is registered and called
    python_tool = build(refund)
    result = python_tool.call(ToolContext(tenant=None), {"order_id": "1042", "amount": 12.5})

    # Then the model's fields are the arguments, and the function receives the model
    assert set(python_tool.input_schema["properties"]) == {"order_id", "amount"}
    assert python_tool.input_schema["properties"]["amount"]["exclusiveMinimum"] == 0
    assert result == {"order": "1042", "amount": 12.5}


def test_titles_are_dropped_but_a_property_named_title_stays():
    def create(title: str, body: str = "") -> dict:
        """Create."""

    schema = build(create).input_schema

    assert "title" in schema["properties"]
    assert "title" not in schema and "title" not in schema["properties"]["title"]


def test_the_docstring_is_the_default_description():
    def ping() -> dict:
        """Answers pong."""

    assert build(ping).description == "Answers pong."


@pytest.mark.parametrize("options, message", [
    ({"name": "Bad Name"}, "lower-case words"),
    ({"effect": "explode"}, "effect must be one of"),
    ({"approval": "sometimes"}, "approval must be"),
    ({"approval": "when amout > 5"}, "'amout', which is not an argument"),
    ({"approval": "when __import__('os')"}, "Only these functions may be called"),
])
def test_an_unusable_definition_fails_at_import_time(options, message):
    def fn(amount: float) -> dict:
        """Fn."""

    with pytest.raises(ValueError, match=message):
        build(fn, **options)


def test_an_unannotated_parameter_is_refused():
    def fn(amount) -> dict:
        """Fn."""

    with pytest.raises(ValueError, match="annotate the parameter 'amount'"):
        build(fn)


def test_approval_when_sets_the_policy_and_condition():
    def fn(amount: float) -> dict:
        """Fn."""

    python_tool = build(fn, approval="when amount > 100")

    assert python_tool.policy_defaults == {"approval": "when", "approval_condition": "amount > 100"}


@pytest.fixture
def registered_tool():
    """A Python tool registered for one test, removed afterwards."""

    @tool(name="test.echo", description="Echo the text.", idempotent=True, approval="when len(text) > 10")
    def echo(text: str) -> dict:
        return {"text": text}

    yield REGISTRY["test.echo"]
    del REGISTRY["test.echo"]


def test_sync_creates_the_global_row_once(db, tenant, registered_tool):
    # Given a registered tool and a tenant
    # When the registry is synced twice
    first = tool_sync(actor=ACTOR)
    events = AuditEvent.objects.filter(tenant=tenant).count()
    second = tool_sync(actor=ACTOR)

    # Then one global python row exists, created once and audited in the tenant's chain once
    row = Tool.objects.get(name="test.echo")
    assert row.tenant is None and row.kind == "python" and row.idempotent
    assert row.approval == "when" and row.approval_condition == "len(text) > 10"
    assert row.config == {"callable": registered_tool.callable_path}
    assert "registered tool test.echo" in first and second == []
    assert AuditEvent.objects.filter(tenant=tenant, action="tool.created", target_id=str(row.pk)).count() == 1
    assert AuditEvent.objects.filter(tenant=tenant).count() == events


def test_sync_keeps_policies_set_in_the_admin(db, registered_tool):
    # Given a synced tool whose approval an operator changed
    tool_sync(actor=ACTOR)
    row = Tool.objects.get(name="test.echo")
    tool_update(tool=row, changes={"approval": "always", "approval_condition": "", "enabled": False}, actor=ACTOR)

    # When the code's description changes and the registry is synced again
    REGISTRY["test.echo"] = build(registered_tool.function, name="test.echo", description="Echo it back.",
                                  idempotent=True)
    tool_sync(actor=ACTOR)

    # Then the definition follows the code and the policies stay
    row.refresh_from_db()
    assert row.description == "Echo it back."
    assert (row.approval, row.enabled) == ("always", False)
