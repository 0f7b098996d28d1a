from django.urls import reverse
from rest_framework import serializers

from agentops.api import MAX_QUERY_INT, StrictCharField, StrictInputMixin, StrictSlugField
from agentops.tenancy.models import BudgetPolicy
from agentops.tenancy.selectors import member_get_by_username
from tools.gateway import RECORDED_RESULTS_KEY

from .journal_view import blobs_for, resolved
from .models import Run, RunOutcome, RunStatus, Step, StepKind, WaitingReason


class RunCreateSerializer(StrictInputMixin, serializers.Serializer):
    """A new run of the agent's current version, with either `input` or `message`."""

    agent = StrictSlugField(max_length=50, help_text="The agent's slug.")
    input = serializers.DictField(required=False, help_text="Structured input for the workflow.")
    message = StrictCharField(required=False, max_length=100_000, help_text="A user message (agent_loop).")
    thread = StrictCharField(required=False, allow_blank=True, max_length=200, default="",
                             help_text="A conversation thread's id (made if new): its runs start with its history "
                                       "and run one at a time, as its concurrency policy says.")
    on_behalf_of = StrictCharField(required=False, max_length=150,
                                         help_text="Username of the end user the run acts for: a member of the tenant.")
    metadata = serializers.DictField(required=False, default=dict)
    version = serializers.IntegerField(required=False, min_value=1, max_value=MAX_QUERY_INT,
                                       help_text="A version number of the agent to run (default: its current one).")
    stream = serializers.BooleanField(required=False, default=False,
                                      help_text="Answer with the run's event stream (text/event-stream, "
                                                "docs/streaming.md) instead of the run.")

    def validate_on_behalf_of(self, value):
        # A member of the caller's tenant (given in the context). One answer for an unknown username
        # and for another tenant's user: no way to probe who exists.
        user = member_get_by_username(tenant=self.context["tenant"], username=value)
        if user is None:
            raise serializers.ValidationError(f"No member of this tenant is called {value!r}.")
        return user

    def validate_metadata(self, value):
        if RECORDED_RESULTS_KEY in value:
            raise serializers.ValidationError(f"{RECORDED_RESULTS_KEY!r} is set by evaluations only.")
        return value

    def validate(self, data):
        if ("input" in data) == ("message" in data):
            raise serializers.ValidationError({"input": "give exactly one of 'input' or 'message'"})
        if "message" in data:
            data["input"] = {"message": data.pop("message")}
        return data


class RunListFilterSerializer(serializers.Serializer):
    """The list's filters; an empty one (`?status=`) filters nothing, an unknown value is a 400."""

    agent = serializers.SlugField(required=False, allow_blank=True, help_text="Agent slug.")
    version = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=MAX_QUERY_INT,
                                       help_text="The agent's version number (with `agent`).")
    status = serializers.ChoiceField(choices=RunOutcome.choices, required=False, allow_blank=True,
                                     help_text="A status, or `succeeded_with_errors`: succeeded runs with a "
                                               "failed tool call.")
    thread = serializers.CharField(required=False, allow_blank=True, max_length=200,
                                   help_text="Runs of this conversation thread.")
    q = serializers.CharField(required=False, allow_blank=True, max_length=200,
                              help_text="Words of the run's input or output (whole words, any case).")
    eval_run = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=MAX_QUERY_INT,
                                        help_text="Runs started by this eval run (evaluations).")

    def validate(self, data):
        if data.get("version") and not data.get("agent"):
            raise serializers.ValidationError({"version": ["Give the agent too: `agent=<slug>&version=<number>`."]})
        return data


class RunSerializer(serializers.ModelSerializer):
    agent = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    agent_version = serializers.IntegerField(source="agent_version.number", read_only=True)
    waiting_reason = serializers.ChoiceField(choices=WaitingReason.choices, allow_blank=True, read_only=True,
                                             help_text="What a waiting run waits for; empty otherwise.")
    created_by = serializers.CharField(source="created_by.username", default=None, allow_null=True, read_only=True)
    on_behalf_of = serializers.CharField(source="on_behalf_of.username", default=None, allow_null=True,
                                         read_only=True)
    parent = serializers.UUIDField(source="parent_id", allow_null=True, read_only=True)
    cost = serializers.DecimalField(max_digits=14, decimal_places=6, read_only=True)
    outcome = serializers.ChoiceField(choices=RunOutcome.choices, read_only=True,
                                      help_text="The status, except `succeeded_with_errors` for a run that "
                                                "succeeded although a tool call ended in an error.")
    tool_errors = serializers.IntegerField(read_only=True, help_text="Tool calls that ended in an error.")

    class Meta:
        model = Run
        fields = [
            "id", "agent", "agent_version", "workflow", "status", "outcome", "tool_errors", "waiting_reason", "input",
            "output", "error",
            "thread", "metadata", "created_by", "on_behalf_of", "parent", "step_count", "tokens_in",
            "tokens_out", "cost", "created_at", "started_at", "finished_at", "legal_hold", "payload_purged_at",
        ]
        read_only_fields = fields


class RunPageSerializer(serializers.Serializer):
    """A page of runs, newest first: follow `next` for older ones, `previous` for newer ones."""

    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = RunSerializer(many=True)


class StepSerializer(serializers.ModelSerializer):
    """A journal entry as stored, with its blobs resolved. A model step's `input.messages` holds
    only the messages that call added (`input.previous` is the call it continues); its whole
    prompt is at `prompt_url`, so a page grows with the journal, not with the square of it."""

    prompt_url = serializers.SerializerMethodField(help_text="For model steps: where their full prompt is.")
    duration_ms = serializers.FloatField(read_only=True, allow_null=True)

    class Meta:
        model = Step
        fields = [
            "seq", "parent_seq", "kind", "name", "status", "input", "prompt_url", "output", "error", "attempt",
            "started_at", "finished_at", "duration_ms", "model", "tokens_in", "tokens_out", "tokens_cached",
            "cost", "price",
        ]
        read_only_fields = fields

    def to_representation(self, step):
        """Payloads stored as blobs are given whole (the view loads the blobs of a page at once)."""
        data = super().to_representation(step)
        blobs = self.context.get("blobs")
        if blobs is not None:
            data["input"], data["output"] = resolved(data["input"], blobs), resolved(data["output"], blobs)
        return data

    def get_prompt_url(self, step) -> str | None:
        if step.kind != StepKind.LLM:
            return None
        return reverse("api-run-step-prompt", args=[step.run_id, step.seq])


def steps_data(steps: list[Step]) -> list[dict]:
    """`steps` as the API gives them, their blobs loaded in one query."""
    blobs = blobs_for([value for step in steps for value in (step.input, step.output)])
    return StepSerializer(steps, many=True, context={"blobs": blobs}).data


class StepPageParamsSerializer(serializers.Serializer):
    after = serializers.IntegerField(required=False, default=0, min_value=0, max_value=MAX_QUERY_INT,
                                     help_text="Only steps with a greater seq: the `next` of the previous page.")
    limit = serializers.IntegerField(required=False, default=200, min_value=1, max_value=1000,
                                     help_text="At most this many steps (default 200).")
    max_bytes = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_QUERY_INT,
        help_text="At most about this many bytes of JSON (default and ceiling: the server's budget, 1 MB "
                  "unless configured). The page ends early when the next step would pass it; a single "
                  "larger step comes alone.")


class RunEventsParamsSerializer(serializers.Serializer):
    after = serializers.IntegerField(required=False, default=0, min_value=0, max_value=MAX_QUERY_INT,
                                     help_text="Resume after this step seq (the header Last-Event-ID wins).")


class RunStepsSerializer(serializers.Serializer):
    """A page of a run's journal, with the run's status as of reading it."""

    run = serializers.UUIDField()
    status = serializers.ChoiceField(choices=RunStatus.choices)
    steps = StepSerializer(many=True)
    next = serializers.IntegerField(allow_null=True, help_text="Pass as `after` for the next page; null at "
                                    "the journal's end (a live run may add steps later: ask again after its last seq).")


class StepPromptSerializer(serializers.Serializer):
    """The full message list one model call was sent, rebuilt from the journal."""

    run = serializers.UUIDField()
    seq = serializers.IntegerField()
    prompt = serializers.ListField(child=serializers.DictField())
    added = serializers.IntegerField(help_text="How many of the last messages were new in this call.")


# Budgets --------------------------------------------------------------------------------------

class StrictDecimalField(serializers.DecimalField):
    """A decimal given as a JSON string, as the schema says ("12.50"): a JSON number would pass
    through a binary float on its way in."""

    default_error_messages = {"not_a_string": 'Give the amount as a string, e.g. "12.50".'}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("not_a_string")
        return super().to_internal_value(data)


def budget_amount(**kwargs):
    """USD, up to the column's precision; null for no limit."""
    return StrictDecimalField(max_digits=12, decimal_places=4, min_value=0, allow_null=True, **kwargs)


class BudgetLimitsSerializer(serializers.Serializer):
    daily_limit = budget_amount(required=False, help_text="USD per UTC day; null for no limit.")
    monthly_limit = budget_amount(required=False, help_text="USD per UTC calendar month; null for no limit.")


class AgentBudgetInputSerializer(StrictInputMixin, BudgetLimitsSerializer):
    agent = StrictSlugField(max_length=50, help_text="The agent's slug.")


class BudgetsUpdateSerializer(StrictInputMixin, BudgetLimitsSerializer):
    """The budgets to change: a field left out stays as it is."""

    policy = serializers.ChoiceField(choices=BudgetPolicy.choices, required=False,
                                     help_text="At 100%: fail the run, or pause it for an owner's approval.")
    agents = AgentBudgetInputSerializer(many=True, required=False, max_length=500)


class BudgetSpendSerializer(serializers.Serializer):
    daily_limit = budget_amount(read_only=True)
    monthly_limit = budget_amount(read_only=True)
    daily_spent = serializers.DecimalField(max_digits=14, decimal_places=6, read_only=True)
    monthly_spent = serializers.DecimalField(max_digits=14, decimal_places=6, read_only=True)


class AgentBudgetSerializer(BudgetSpendSerializer):
    agent = serializers.SlugField(read_only=True)


class BudgetsSerializer(serializers.Serializer):
    """The tenant's budgets and the agents' that have one, with what this UTC day and month have spent."""

    policy = serializers.ChoiceField(choices=BudgetPolicy.choices, read_only=True)
    warn_at_percent = serializers.IntegerField(read_only=True)
    tenant = BudgetSpendSerializer(read_only=True)
    agents = AgentBudgetSerializer(many=True, read_only=True)
