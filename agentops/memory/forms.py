from django import forms
from django.conf import settings

from .models import MemoryKind, MemoryScope


class MemoryFilterForm(forms.Form):
    """The page's filters: scope and subject pick whose memory; `q` searches it (best first)."""

    scope = forms.ChoiceField(choices=[("", "All scopes"), *MemoryScope.choices], required=False)
    subject = forms.CharField(max_length=150, required=False, help_text="Username or agent slug")
    kind = forms.ChoiceField(choices=[("", "All kinds"), *MemoryKind.choices], required=False)
    q = forms.CharField(max_length=500, required=False, label="Search")


class MemoryEditForm(forms.Form):
    kind = forms.ChoiceField(choices=MemoryKind.choices)
    content = forms.CharField(max_length=settings.AGENTOPS_MEMORY_MAX_CONTENT_CHARS, strip=False,
                              widget=forms.Textarea(attrs={"rows": 3}))
