from .selectors import membership_list_for_user


def tenancy(request):
    principal = getattr(request, "principal", None)
    if principal is None or not request.user.is_authenticated:
        return {}
    return {
        "principal": principal,
        "can_view_audit": principal.can("view_audit"),
        "memberships": lambda: membership_list_for_user(user=request.user),
    }
