"""The decision form of the request page: a verdict, a comment, and the arguments as one input per
field, generated from the tool's JSON Schema.

The form only turns text into JSON values. Whether the arguments are valid is the tool schema's
call, made by `approval_decide` (the same check the API gets); its messages are put back on the
fields here. Argument fields are never required by the form for the same reason.
"""

from __future__ import annotations

import json

from django import forms

from .models import COMMENT_MAX_LENGTH

ARG_PREFIX = "arg__"
APPROVE, APPROVE_EDITED, REJECT = "approve", "approve_edited", "reject"


class NumberField(forms.FloatField):
    """A JSON number: 25 stays an int, so an untouched amount does not count as an edit."""

    def to_python(self, value):
        number = super().to_python(value)
        return int(number) if number is not None and number.is_integer() else number


class DecisionForm(forms.Form):
    verdict = forms.ChoiceField(choices=[(APPROVE, "Approve"), (APPROVE_EDITED, "Approve with edits"),
                                         (REJECT, "Reject")])
    seen_hash = forms.CharField(widget=forms.HiddenInput)
    comment = forms.CharField(required=False, max_length=COMMENT_MAX_LENGTH, widget=forms.Textarea(attrs={"rows": 2, "placeholder":
                              "Why? Required to reject; the agent and the requester read it."}))

    def __init__(self, *args, schema: dict | None, arguments: dict, **kwargs):
        super().__init__(*args, **kwargs)
        self.arguments = arguments
        properties = (schema or {}).get("properties") or {}
        self.argument_names = list(properties) + [name for name in arguments if name not in properties]
        for name in self.argument_names:
            field = _field_for(properties.get(name))
            field.label = name
            field.initial = _initial(field, arguments.get(name))
            self.fields[ARG_PREFIX + name] = field

    def argument_rows(self):
        """(bound field, the proposed value as the input shows it), to mark what the approver changed."""
        rows = []
        for name in self.argument_names:
            bound = self[ARG_PREFIX + name]
            proposed = bound.field.prepare_value(bound.initial)
            rows.append((bound, "" if proposed is None else str(proposed)))
        return rows

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("verdict") != APPROVE_EDITED:
            # The arguments are only read for an edited approval; a typo there must not block a reject.
            for name in self.argument_names:
                self._errors.pop(ARG_PREFIX + name, None)
        return cleaned

    def edited_arguments(self) -> dict | None:
        """The arguments as edited, for "approve with edits"; None for the other verdicts."""
        if self.cleaned_data.get("verdict") != APPROVE_EDITED:
            return None
        edited = {}
        for name in self.argument_names:
            value = self.cleaned_data.get(ARG_PREFIX + name)
            if value is None or value == "":
                # An emptied input removes the argument, unless it was empty to begin with.
                if name in self.arguments and self.arguments[name] in (None, ""):
                    edited[name] = self.arguments[name]
                continue
            edited[name] = value
        return edited

    def add_argument_errors(self, details: list[dict]) -> None:
        """Put the schema's messages ({"path": "amount", "message": ...}) on their inputs."""
        for detail in details:
            top = detail["path"].split(".")[0].split("[")[0]
            field = ARG_PREFIX + top if top in self.argument_names else None
            message = detail["message"] if field else ": ".join(p for p in (detail["path"], detail["message"]) if p)
            self.add_error(field, message)


def _field_for(spec: dict | None) -> forms.Field:
    spec = spec if isinstance(spec, dict) else {}
    kind = spec.get("type")
    if isinstance(kind, list):  # ["string", "null"]: the first real type
        kind = next((k for k in kind if k != "null"), None)
    help_text = spec.get("description", "")
    if "enum" in spec:
        # Strings as they are; other values (numbers, null) as JSON, so they come back typed.
        plain = all(isinstance(v, str) for v in spec["enum"])
        choices = [("", "—")] + [(v if plain else json.dumps(v), str(v)) for v in spec["enum"]]
        return forms.TypedChoiceField(choices=choices, coerce=str if plain else json.loads, empty_value=None,
                                      required=False, help_text=help_text)
    if kind == "string":
        widget = forms.Textarea(attrs={"rows": 3}) if spec.get("maxLength", 0) > 200 else forms.TextInput
        return forms.CharField(required=False, help_text=help_text, widget=widget, strip=False)
    if kind in ("integer", "number"):
        attrs = {k: spec[s] for k, s in (("min", "minimum"), ("max", "maximum")) if s in spec}
        attrs["step"] = "1" if kind == "integer" else "any"
        field_class = forms.IntegerField if kind == "integer" else NumberField
        return field_class(required=False, help_text=help_text, widget=forms.NumberInput(attrs=attrs))
    if kind == "boolean":
        # Three states, so that an optional flag the agent left out is not sent as false.
        return forms.TypedChoiceField(choices=[("", "—"), ("true", "Yes"), ("false", "No")],
                                      coerce=lambda v: v == "true", empty_value=None, required=False,
                                      help_text=help_text)
    return forms.JSONField(required=False, help_text=help_text or "JSON",
                           widget=forms.Textarea(attrs={"rows": 3, "class": "mono"}))


def _initial(field: forms.Field, value):
    if isinstance(field, forms.TypedChoiceField):
        if value is None:
            return ""
        if field.coerce is json.loads:
            return json.dumps(value)
        if field.coerce is str:
            return value
        return "true" if value else "false"
    return value


class SelectedRequestsField(forms.Field):
    """The inbox rows ticked for a bulk decision, each sent as "<id>:<seen_hash>"."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value):
        selected = []
        for item in value or []:
            request_id, _, seen_hash = str(item).partition(":")
            if not request_id.isdigit() or not seen_hash:
                raise forms.ValidationError("The selection was not understood; reload the inbox.")
            selected.append((int(request_id), seen_hash))
        return selected


class BulkDecisionForm(forms.Form):
    verdict = forms.ChoiceField(choices=[(APPROVE, "Approve"), (REJECT, "Reject")])
    comment = forms.CharField(required=False, max_length=COMMENT_MAX_LENGTH)
    selected = SelectedRequestsField(error_messages={"required": "Select the requests to decide."})

    def error_text(self) -> str:
        return " ".join(str(error) for errors in self.errors.values() for error in errors)


def _budget_field(label: str) -> forms.DecimalField:
    return forms.DecimalField(label=label, required=False, min_value=0, max_digits=12, decimal_places=4,
                              help_text="USD; empty: no limit.")


class BudgetRaiseForm(forms.Form):
    """The budgets a paused run waits on, on its budget approval's page: the tenant's and its agent's."""

    daily_cost_limit = _budget_field("Tenant, per UTC day")
    monthly_cost_limit = _budget_field("Tenant, per UTC month")
    agent_daily_cost_limit = _budget_field("This agent, per UTC day")
    agent_monthly_cost_limit = _budget_field("This agent, per UTC month")

    @classmethod
    def for_budgets_of(cls, tenant, agent, data=None) -> "BudgetRaiseForm":
        return cls(data=data, initial={
            "daily_cost_limit": tenant.daily_cost_limit, "monthly_cost_limit": tenant.monthly_cost_limit,
            "agent_daily_cost_limit": agent.daily_cost_limit, "agent_monthly_cost_limit": agent.monthly_cost_limit})

    def changes(self) -> tuple[dict, dict]:
        """(the tenant's budgets, the agent's limits) as `budgets_set` takes them."""
        data = self.cleaned_data
        return ({name: data[name] for name in ("daily_cost_limit", "monthly_cost_limit")},
                {"daily_cost_limit": data["agent_daily_cost_limit"],
                 "monthly_cost_limit": data["agent_monthly_cost_limit"]})
