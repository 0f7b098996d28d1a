from .budgets import budget_banner


def budgets(request):
    """`budget_warnings`: the tenant's budgets at 80% or more, for the banner of every page."""
    principal = getattr(request, "principal", None)
    if not principal or not request.user.is_authenticated:
        return {}
    return {"budget_warnings": lambda: budget_banner(tenant=principal.tenant)}
