"""The form that starts a run from the pages: what the API's POST /api/v1/runs/ takes."""

from __future__ import annotations

import json

from django import forms

IDEMPOTENCY_KEY_MAX = 200


class RunStartForm(forms.Form):
    """An agent of the tenant, a message or a JSON input, a thread and a version (default: the
    current one). The hidden key, new with each empty form, makes a double submit start one run."""

    # A text field shown as a list of the agents the user may start: a slug posted from elsewhere
    # still reaches the service, which refuses it with its reason and audits the refusal.
    agent = forms.CharField(max_length=50)
    message = forms.CharField(required=False, max_length=100_000, widget=forms.Textarea(attrs={"rows": 4}))
    input = forms.CharField(required=False, label="Or input (a JSON object)",
                            widget=forms.Textarea(attrs={"rows": 4, "class": "mono", "spellcheck": "false"}))
    thread = forms.CharField(required=False, max_length=200, help_text="Runs of one thread share a conversation.")
    version = forms.IntegerField(required=False, min_value=1, help_text="Empty: the agent's current version.")
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=IDEMPOTENCY_KEY_MAX, required=False)

    def __init__(self, *args, agents, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["agent"].widget = forms.Select(choices=[
            (a.slug, f"{a.slug} (v{a.current_version.number})") for a in agents if a.current_version_id
        ])

    def clean_input(self):
        text = self.cleaned_data["input"].strip()
        if not text:
            return None
        try:
            value = json.loads(text)
        except ValueError as error:
            raise forms.ValidationError(f"This is not valid JSON: {error}") from error
        if not isinstance(value, dict):
            raise forms.ValidationError("The input must be a JSON object ({...}).")
        return value

    def clean(self):
        data = super().clean()
        has_message, has_input = bool(data.get("message")), data.get("input") is not None
        if has_message == has_input and not self.has_error("input"):
            raise forms.ValidationError("Give a message or an input: one of the two.")
        data["run_input"] = {"message": data["message"]} if has_message else data.get("input")
        return data
