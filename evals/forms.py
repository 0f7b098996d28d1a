"""The evals pages' forms: a case made from a run (edited before saving) and starting a suite."""

from __future__ import annotations

import json

from django import forms

from .models import EvalCase, EvalRun, EvalSuite
from .services import MAX_REPEATS

NAME_MAX = EvalSuite._meta.get_field("name").max_length


class JsonTextarea(forms.Textarea):
    """JSON shown indented, so that a person can edit a list of assertions."""

    def format_value(self, value):
        if isinstance(value, str):
            return value  # what was typed, shown again with its error
        return json.dumps(value, indent=2, ensure_ascii=False)


class CaseFromRunForm(forms.Form):
    suite = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, label="Suite")
    new_suite = forms.CharField(required=False, max_length=NAME_MAX, label="or a new suite",
                                widget=forms.TextInput(attrs={"placeholder": "name of a new suite"}))
    name = forms.CharField(max_length=EvalCase._meta.get_field("name").max_length, label="Case name")
    message = forms.CharField(required=False, max_length=100_000, widget=forms.Textarea(attrs={"rows": 3}),
                              help_text="What the agent is asked.")
    input = forms.JSONField(required=False, widget=JsonTextarea(attrs={"rows": 4}),
                            help_text="The run's structured input, for a run started without a message.")
    expected = forms.CharField(required=False, max_length=100_000, widget=forms.Textarea(attrs={"rows": 5}),
                               label="Expected output", help_text="For people reading the case.")
    assertions = forms.JSONField(required=False, widget=JsonTextarea(attrs={"rows": 10}),
                                 help_text='A list of checks, e.g. {"type": "icontains", "value": "30 days"} '
                                           'or {"type": "trajectory", "value": ["orders.lookup"]}.')

    def __init__(self, *args, suites, **kwargs):
        super().__init__(*args, **kwargs)
        self.suites = {suite.pk: suite for suite in suites}
        self.fields["suite"].choices = [("", "— a new suite —"), *((pk, s.name) for pk, s in self.suites.items())]

    def clean_assertions(self):
        assertions = self.cleaned_data["assertions"]
        if assertions is None:
            return []
        if not isinstance(assertions, list) or not all(
                isinstance(item, dict) and isinstance(item.get("type"), str) for item in assertions):
            raise forms.ValidationError('A JSON list of objects, each with a "type".')
        return assertions

    def clean(self):
        data = super().clean()
        if (data.get("suite") is None) == (not data.get("new_suite", "").strip()):
            self.add_error("new_suite", "Choose a suite, or name a new one (not both).")
        if not data.get("message") and not isinstance(data.get("input"), dict):
            self.add_error("message", "Give the message, or a JSON object as the input.")
        return data

    def chosen_suite(self) -> EvalSuite | None:
        return self.suites.get(self.cleaned_data.get("suite"))

    def case(self, *, run) -> dict:
        data = self.cleaned_data
        return {"name": data["name"], "message": data["message"],
                "input": None if data["message"] else data["input"], "expected": data["expected"] or None,
                "assertions": data["assertions"], "tags": ["from-production"],
                "description": f"From run {run.pk}"}


RUN_FORM_BASELINES = 10  # the latest eval runs offered as a baseline


class SuiteRunForm(forms.Form):
    """Run suite: a version of the suite's agent, repeats, and an eval run to compare with."""

    version = forms.TypedChoiceField(coerce=int, label="Version")
    repeat = forms.IntegerField(min_value=1, max_value=MAX_REPEATS, initial=1, label="Repeats",
                                widget=forms.NumberInput(attrs={"size": 3}))
    baseline = forms.ChoiceField(required=False, label="Compare with", initial="latest")
    label = forms.CharField(required=False, max_length=EvalRun._meta.get_field("label").max_length, label="Label",
                            widget=forms.TextInput(attrs={"placeholder": "e.g. a release"}))

    def __init__(self, *args, versions, baselines, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["version"].choices = [(v.number, f"v{v.number}") for v in versions]
        if versions:
            self.fields["version"].initial = versions[0].number
        self.fields["baseline"].choices = [
            ("latest", "the latest finished eval run"), ("", "nothing"),
            *((str(run.pk), f"#{run.pk} on v{run.agent_version.number}{f' ({run.label})' if run.label else ''}")
              for run in baselines)]
