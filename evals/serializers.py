from rest_framework import serializers

from agentops.api import MAX_QUERY_INT, StrictCharField, StrictInputMixin, StrictSlugField
from agentops.agents.models import Agent

from .models import EvalCase, EvalResult, EvalRun, EvalSuite
from .services import MAX_REPEATS

MAX_CASES_PER_REQUEST = 500

ASSERTIONS_HELP = ('Checks in promptfoo\'s shape, e.g. [{"type": "icontains", "value": "30 days"}, '
                   '{"type": "trajectory", "value": ["kb.search"]}] (docs/evals.md).')


class AssertionsField(serializers.ListField):
    def __init__(self, **kwargs):
        super().__init__(child=serializers.DictField(), max_length=100, help_text=ASSERTIONS_HELP, **kwargs)


class EvalCaseSerializer(StrictInputMixin, serializers.ModelSerializer):
    """A case: what the agent is asked (`message`, or `input` for other workflows) and the
    assertions its answer must pass."""

    assertions = AssertionsField(required=False)

    class Meta:
        model = EvalCase
        fields = ["id", "position", "name", "description", "message", "input", "vars", "expected", "assertions",
                  "tags", "approval_decisions", "tool_results", "created_at"]
        read_only_fields = ["id", "position", "created_at"]
        extra_kwargs = {"description": {"max_length": 10_000}, "message": {"max_length": 100_000}}

    def validate(self, data):
        if not data.get("message") and not isinstance(data.get("input"), dict):
            raise serializers.ValidationError({"message": ["Give a message, or a JSON object as `input`."]})
        return data


class EvalCasesAddSerializer(StrictInputMixin, serializers.Serializer):
    cases = EvalCaseSerializer(many=True, allow_empty=False, max_length=MAX_CASES_PER_REQUEST)


class EvalSuiteSerializer(serializers.ModelSerializer):
    agent = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = EvalSuite
        fields = ["id", "name", "agent", "description", "default_assertions", "default_vars", "created_at",
                  "updated_at"]
        read_only_fields = fields


class EvalSuiteDetailSerializer(EvalSuiteSerializer):
    cases = EvalCaseSerializer(source="cases_in_order", many=True, read_only=True,
                               help_text="The suite's cases in order.")

    class Meta(EvalSuiteSerializer.Meta):
        fields = [*EvalSuiteSerializer.Meta.fields, "cases"]
        read_only_fields = fields


class EvalSuiteCreateSerializer(StrictInputMixin, serializers.ModelSerializer):
    agent = StrictSlugField(max_length=50, help_text="The slug of the agent the suite evaluates.")
    default_assertions = AssertionsField(required=False)
    cases = EvalCaseSerializer(many=True, required=False, max_length=MAX_CASES_PER_REQUEST,
                               help_text="Cases to add at once, in order.")

    class Meta:
        model = EvalSuite
        fields = ["name", "agent", "description", "default_assertions", "default_vars", "cases"]
        extra_kwargs = {"description": {"max_length": 10_000}}

    def validate_agent(self, slug):
        agent = Agent.objects.filter(tenant=self.context["tenant"], slug=slug).first()
        if agent is None:
            raise serializers.ValidationError(f"No agent called {slug!r} in this tenant.")
        return agent


class CursorLinksSerializer(serializers.Serializer):
    """A page of a list by cursor: follow `next` for the rest, `previous` back."""

    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)


class EvalSuitePageSerializer(CursorLinksSerializer):
    results = EvalSuiteSerializer(many=True)


class EvalRunSerializer(serializers.ModelSerializer):
    suite_name = serializers.CharField(source="suite.name", read_only=True)
    agent_version = serializers.IntegerField(source="agent_version.number", read_only=True,
                                             help_text="The number of the agent version evaluated.")
    created_by = serializers.CharField(source="created_by.username", default=None, allow_null=True, read_only=True)
    summary = serializers.JSONField(read_only=True, help_text="Pass rate, scores, cost, latency, and against the "
                                                              "baseline the regressed, improved and flaky cases.")

    class Meta:
        model = EvalRun
        fields = ["id", "suite", "suite_name", "agent_version", "label", "repeats", "status", "baseline", "total",
                  "done", "summary", "error", "created_by", "created_at", "started_at", "finished_at"]
        read_only_fields = fields


class EvalRunCreateSerializer(StrictInputMixin, serializers.Serializer):
    """Start an eval run: every case of `suite`, `repeats` times, on a version of the suite's agent."""

    suite = serializers.IntegerField(min_value=1, max_value=MAX_QUERY_INT, help_text="The suite's id.")
    agent_version = serializers.IntegerField(required=False, min_value=1, max_value=MAX_QUERY_INT,
                                             help_text="A version number of the suite's agent (default: current).")
    repeat = serializers.IntegerField(required=False, default=1, min_value=1, max_value=MAX_REPEATS,
                                      help_text="How many times each case runs: repeats tell a flaky case from a "
                                                "regression.")
    baseline = StrictCharField(required=False, max_length=200,
                               help_text="An eval run of the same suite to compare with: its id, its label, or "
                                         "`latest` (its last finished one, if any).")
    label = StrictCharField(required=False, default="", allow_blank=True, max_length=200,
                            help_text="A name to compare against later, e.g. a release.")


class EvalRunListFilterSerializer(serializers.Serializer):
    suite = serializers.IntegerField(required=False, min_value=1, max_value=MAX_QUERY_INT,
                                     help_text="Eval runs of this suite only.")


class EvalRunPageSerializer(CursorLinksSerializer):
    results = EvalRunSerializer(many=True)


class EvalResultSerializer(serializers.ModelSerializer):
    case_name = serializers.CharField(source="case.name", read_only=True)
    run = serializers.UUIDField(source="run_id", allow_null=True, read_only=True,
                                help_text="The run the case executed: its trace is /runs/{run}/.")

    class Meta:
        model = EvalResult
        fields = ["id", "case", "case_name", "repeat_index", "run", "status", "passed", "score", "assertions",
                  "error", "cost", "latency_seconds", "finished_at"]
        read_only_fields = fields


class EvalRunDetailSerializer(EvalRunSerializer):
    """An eval run with a page of its results (case by case): follow `next` for the rest."""

    results = EvalResultSerializer(source="results_page", many=True, read_only=True)
    next = serializers.URLField(allow_null=True, read_only=True)
    previous = serializers.URLField(allow_null=True, read_only=True)

    class Meta(EvalRunSerializer.Meta):
        fields = [*EvalRunSerializer.Meta.fields, "results", "next", "previous"]
        read_only_fields = fields


class EvalComparisonParamsSerializer(serializers.Serializer):
    baseline = serializers.CharField(required=False, max_length=200,
                                     help_text="Compare with this eval run of the suite (id, label or `latest`) "
                                               "instead of the eval run's own baseline.")


class EvalCaseChangeSerializer(serializers.Serializer):
    case = serializers.IntegerField()
    name = serializers.CharField()
    change = serializers.ChoiceField(choices=["regressed", "improved", "unchanged", "flaky", "new"])
    before = serializers.CharField(allow_null=True, help_text="passed, failed or flaky; null for a new case.")
    after = serializers.CharField(help_text="passed, failed or flaky.")
    cost_delta = serializers.FloatField(allow_null=True)
    latency_delta_ms = serializers.FloatField(allow_null=True)


class EvalComparisonSerializer(serializers.Serializer):
    """An eval run against a baseline, case by case. A case that passed (or failed) every repeat
    on both sides regressed or improved when its verdict changed; one that was flaky on either
    side is `flaky`, never a regression."""

    baseline = serializers.IntegerField()
    eval_run = serializers.IntegerField()
    counts = serializers.DictField(child=serializers.IntegerField(), help_text="Cases per change.")
    pass_rate_delta = serializers.FloatField(allow_null=True)
    cost_delta = serializers.FloatField(allow_null=True)
    latency_p50_delta_ms = serializers.FloatField(allow_null=True)
    latency_p95_delta_ms = serializers.FloatField(allow_null=True)
    cases = EvalCaseChangeSerializer(many=True)
