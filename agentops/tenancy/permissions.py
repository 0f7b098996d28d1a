from rest_framework import permissions


def request_principal(request):
    """The request's Principal, or None (the session principal is lazy: truth-test it)."""
    principal = getattr(request._request, "principal", None)
    return principal if principal else None


class TenantMember(permissions.BasePermission):
    """The caller acts in a tenant and holds what the view requires for this method.

    Views declare `required_permissions = {"GET": ("view", "read"), "POST": ("run_agents", "runs:write")}`:
    a role permission and, for API keys, the scope the key must carry. Unlisted safe methods need
    ("view", "read"); unlisted unsafe methods are refused. A method the view does not have is let
    through to the view's 405 `method_not_allowed` (DRF checks permissions before the method).
    """

    message = "You do not have permission to perform this action in this tenant."

    def has_permission(self, request, view):
        principal = request_principal(request)
        if principal is None:
            return False
        if not _view_handles(view, request.method):
            return True
        required = getattr(view, "required_permissions", {})
        if request.method in required:
            permission, scope = required[request.method]
        elif request.method in permissions.SAFE_METHODS:
            permission, scope = "view", "read"
        else:
            return False
        return principal.can(permission, scope)


def _view_handles(view, method: str) -> bool:
    return method.lower() in view.http_method_names and hasattr(view, method.lower())
