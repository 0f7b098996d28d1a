"""Evaluation pages, mounted at /evals/. Suites, cases and results are not built yet: the index
says what will be here and shows nothing that pretends to work."""

from django.shortcuts import render
from django.views.decorators.http import require_GET

from agentops.pages import page_login_required


@page_login_required
@require_GET
def index(request):
    return render(request, "evals/index.html", {"nav": "evals"})
