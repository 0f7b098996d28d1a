"""Admin for evals.

Suites and their cases are editable by the roles that may run evals (`run_agents`, as in the
API), with each assertion list checked as the API and `manage.py eval import` check it, and every
change audited, cases included. Eval runs and their results are the runner's records: read-only.
"""

from django import forms
from django.contrib import admin

from agentops.admin import ReadOnlyAdminMixin, TenantScopedAdminMixin, TenantScopedInlineMixin
from agentops.audit.admin import AuditedAdminMixin

from .assertions.scoring import assertions_validate
from .errors import EvalError
from .models import EvalCase, EvalResult, EvalRun, EvalSuite


def _checked_assertions(value, where: str) -> list:
    try:
        return assertions_validate(value if value is not None else [], where=where)
    except EvalError as error:
        raise forms.ValidationError(error.message) from None


class EvalSuiteForm(forms.ModelForm):
    def clean_default_assertions(self):
        return _checked_assertions(self.cleaned_data["default_assertions"], "default assertions")


class EvalCaseForm(forms.ModelForm):
    def clean_assertions(self):
        return _checked_assertions(self.cleaned_data["assertions"], "assertions")


class EvalCaseInline(TenantScopedInlineMixin, admin.StackedInline):
    """The suite's cases, editable by whoever may change the suite."""

    model = EvalCase
    form = EvalCaseForm
    extra = 0
    fields = ["position", "name", "message", "input", "vars", "expected", "assertions", "threshold", "tags",
              "approval_decisions", "tool_results", "description"]

    def _suite_admin(self) -> "EvalSuiteAdmin":
        return self.admin_site.get_model_admin(EvalSuite)

    def has_add_permission(self, request, obj=None):
        return self._suite_admin().has_change_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._suite_admin().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._suite_admin().has_change_permission(request, obj)


@admin.register(EvalSuite)
class EvalSuiteAdmin(AuditedAdminMixin, TenantScopedAdminMixin, admin.ModelAdmin):
    form = EvalSuiteForm
    manage_permission = "run_agents"
    list_display = ["name", "tenant", "agent", "updated_at"]
    list_filter = ["tenant"]
    search_fields = ["name", "description", "agent__slug"]
    list_select_related = ["tenant", "agent"]
    raw_id_fields = ["agent"]
    inlines = [EvalCaseInline]

    def get_readonly_fields(self, request, obj=None):
        # A suite's history (eval runs, baselines) is its agent's: it does not move to another.
        return ["tenant", "agent"] if obj is not None else []

    def save_formset(self, request, form, formset, change):
        super().save_formset(request, form, formset, change)
        suite = form.instance
        events = {"eval_case.added": [_label(case) for case in formset.new_objects],
                  "eval_case.changed": {_label(case): fields for case, fields in formset.changed_objects},
                  "eval_case.deleted": [_label(case) for case in formset.deleted_objects]}
        for action, cases in events.items():
            if cases:
                self.record_admin_event(request, suite, action, data={"suite": suite.name, "cases": cases})


def _label(case: EvalCase) -> str:
    return case.name or f"#{case.position}"


class EvalResultInline(ReadOnlyAdminMixin, TenantScopedInlineMixin, admin.TabularInline):
    model = EvalResult
    fields = ["case", "repeat_index", "status", "passed", "score", "cost", "latency_seconds", "run", "error"]
    readonly_fields = fields
    extra = 0


@admin.register(EvalRun)
class EvalRunAdmin(ReadOnlyAdminMixin, TenantScopedAdminMixin, admin.ModelAdmin):
    list_display = ["id", "suite", "tenant", "agent_version", "label", "status", "done", "total", "created_at",
                    "finished_at"]
    list_filter = ["status", "tenant"]
    search_fields = ["suite__name", "label"]
    list_select_related = ["suite", "tenant", "agent_version__agent"]
    date_hierarchy = "created_at"
    inlines = [EvalResultInline]
