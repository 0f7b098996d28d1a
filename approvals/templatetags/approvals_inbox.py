"""`{% inbox_badge %}`: the pending-approvals count in the nav, refreshed by polling and on decisions."""

from django import template

from approvals.selectors import approval_pending_count

register = template.Library()


@register.inclusion_tag("approvals/_badge.html", takes_context=True)
def inbox_badge(context):
    if "pending_count" in context:  # the inbox counted already
        return {"pending_count": context["pending_count"]}
    request = context.get("request")
    principal = getattr(request, "principal", None) if request is not None else None
    return {"pending_count": approval_pending_count(principal) if principal else 0}
