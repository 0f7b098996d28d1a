"""/memory/: a tenant's memory items by scope and subject, searched best first, edited and deleted
with small forms. The same selectors and services as /api/v1/memory/; HTMX gets the list alone."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from agentops.audit.services import Actor
from agentops.errors import CodedError
from agentops.pages import page_login_required

from .forms import MemoryEditForm, MemoryFilterForm
from .models import MemoryKind
from .selectors import memory_get, memory_list, memory_search, scopes_within, visible_scopes
from .services import memory_delete, memory_update

PAGE_SIZE = 50


def _principal(request):
    principal = getattr(request, "principal", None)
    return principal if principal else None  # a lazy object: truth-test it


@page_login_required
@require_GET
def memory_page(request):
    principal = _principal(request)
    form = MemoryFilterForm(request.GET)
    filters = form.cleaned_data if form.is_valid() else {}
    items, searched = [], bool(filters.get("q"))
    if principal:
        scopes = scopes_within(visible_scopes(principal), filters.get("scope"), filters.get("subject"))
        if searched:
            items = memory_search(tenant=principal.tenant, query=filters["q"], scopes=scopes,
                                  kind=filters.get("kind") or None, limit=PAGE_SIZE)
        else:
            page = memory_list(tenant=principal.tenant, scopes=scopes, kind=filters.get("kind") or None)
            items = [_Unscored(item) for item in page.page(size=PAGE_SIZE).items]
    context = {"form": form, "results": items, "searched": searched, "principal": principal, "nav": "memory",
               "may_write": principal is not None and principal.can("run_agents"), "kinds": MemoryKind.choices}
    template = "memory/_items.html" if request.htmx else "memory/memory.html"
    return render(request, template, context)


class _Unscored:
    """A listed item, shaped as a search result."""

    score = None

    def __init__(self, item):
        self.item = item


def _item_for(request, pk: int):
    principal = _principal(request)
    item = memory_get(tenant=principal.tenant, scopes=visible_scopes(principal), item_id=pk) if principal else None
    if item is None or not principal.can("run_agents"):
        raise Http404("No such memory item.")
    return item


@page_login_required
@require_POST
def memory_edit(request, pk: int):
    item = _item_for(request, pk)
    form = MemoryEditForm(request.POST)
    if not form.is_valid():
        messages.error(request, "; ".join(f"{name}: {' '.join(errors)}" for name, errors in form.errors.items()))
        return redirect(_back(request))
    try:
        memory_update(item=item, actor=Actor.for_user(request.user), **form.cleaned_data)
        messages.success(request, f"Memory item {item.pk} saved.")
    except CodedError as error:
        messages.error(request, error.message)
    return redirect(_back(request))


@page_login_required
@require_POST
def memory_remove(request, pk: int):
    memory_delete(item=_item_for(request, pk), actor=Actor.for_user(request.user))
    messages.success(request, f"Memory item {pk} deleted.")
    return redirect(_back(request))


def _back(request) -> str:
    """The filtered page the form was on (a path of this site only)."""
    back = request.POST.get("next", "")
    return back if back.startswith("/memory/") else "/memory/"
