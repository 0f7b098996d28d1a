import math

from axes.helpers import get_client_username
from django.conf import settings
from django.contrib.staticfiles import finders
from django.db import connection
from django.http import FileResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import Resolver404, resolve
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST, require_safe

from agentops.api import API_PREFIX, error_response
from agentops.pages import page_login_required
from agentops.tenancy.middleware import SESSION_TENANT_KEY
from agentops.tenancy.selectors import membership_list_for_user


@require_safe
def healthz(request):
    """Liveness plus a database round trip; 503 when the database does not answer."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "not healthy", with the reason
        return JsonResponse({"status": "error", "database": str(exc.__class__.__name__)}, status=503)
    return JsonResponse({"status": "ok", "database": "ok"})


@require_safe
def favicon(request):
    """/favicon.ico, which browsers and feed readers ask for whatever a page's <link rel=icon> says."""
    response = FileResponse(open(finders.find("favicon.ico"), "rb"), content_type="image/x-icon")
    response["Cache-Control"] = "public, max-age=86400"
    return response


@page_login_required
def home(request):
    return render(request, "home.html")


@page_login_required
@require_POST
def tenant_switch(request):
    """Make another of the user's tenants the current one for this browser session."""
    wanted = request.POST.get("tenant")
    membership = next((m for m in membership_list_for_user(user=request.user) if str(m.tenant_id) == wanted), None)
    if membership is not None:
        request.session[SESSION_TENANT_KEY] = membership.tenant_id
    # `next` comes from the form, so anyone can craft it: only ever go back to a page of this site.
    next_url = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        next_url = "home"
    return redirect(next_url)


def login_locked_out(request, original_response=None, credentials=None):
    """What a locked-out login gets, on the login page and the admin's (AXES_LOCKOUT_CALLABLE):
    a page in the site's style, 429 with Retry-After. Every attempt while locked out starts the
    cool-off again, so the whole of it is left after this one."""
    cooloff_seconds = int(settings.AXES_COOLOFF_TIME.total_seconds())
    response = render(request, "registration/locked_out.html", {
        "username": get_client_username(request, credentials),
        "failure_limit": settings.AXES_FAILURE_LIMIT,
        "cooloff_minutes": math.ceil(cooloff_seconds / 60),
    }, status=429)
    response["Retry-After"] = str(cooloff_seconds)
    return response


# -- the API's answers outside its endpoints ---------------------------------------------------


@csrf_exempt
def api_not_found(request):
    """Any /api/ path no endpoint matches (an unknown path, a malformed id): a JSON 404."""
    message = f"No endpoint at {request.path}."
    if not request.path.endswith("/") and _is_endpoint(request.path + "/"):
        message += f" Did you mean {request.path}/ ?"
    return error_response("not_found", message, status=404)


def _is_endpoint(path: str) -> bool:
    try:
        return resolve(path).func is not api_not_found
    except Resolver404:
        return False


def bad_request(request, exception):
    """handler400: a request Django refuses before any view (a disallowed host, say)."""
    if request.path.startswith(API_PREFIX):
        return error_response("bad_request", "The request is malformed.", status=400)
    return defaults.bad_request(request, exception)


def server_error(request):
    """handler500, with DEBUG off: the envelope for the API; the error itself is logged by Django."""
    if request.path.startswith(API_PREFIX):
        return error_response("server_error", "The server failed to answer this request; the error is logged.",
                              status=500)
    return defaults.server_error(request)
