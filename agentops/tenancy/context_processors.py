from .selectors import membership_list_for_user


def tenancy(request):
    principal = getattr(request, "principal", None)
    if principal is None or not request.user.is_authenticated:
        return {}
    return {
        "principal": principal,
        # Lazy, like the principal: a superuser may have no membership in any tenant.
        "can_view_audit": lambda: bool(principal) and principal.can("view_audit"),
        "memberships": lambda: membership_list_for_user(user=request.user),
    }
