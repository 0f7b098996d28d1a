from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.utils.functional import SimpleLazyObject

from .principal import Principal
from .selectors import membership_list_for_user

SESSION_TENANT_KEY = "tenant_id"


def principal_for_session(request) -> Principal | None:
    """The signed-in user's principal in the tenant they picked (else their first tenant)."""
    user = request.user
    if not user.is_authenticated:
        return None
    memberships = list(membership_list_for_user(user=user))
    if not memberships:
        return None
    chosen = request.session.get(SESSION_TENANT_KEY)
    membership = next((m for m in memberships if m.tenant_id == chosen), memberships[0])
    return Principal(tenant=membership.tenant, user=user, membership=membership)


class CurrentTenantMiddleware:
    """Sets `request.principal` lazily for browser sessions (API keys set it in authentication).
    Sync and async: it waits for nothing, so under ASGI it needs no hop to a thread."""

    sync_capable = async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request):
        request.principal = SimpleLazyObject(lambda: principal_for_session(request))
        return self.get_response(request)  # under ASGI an awaitable, which Django awaits
