"""What every page view shares: the login check that knows HTMX.

Pages are server-rendered and kept up to date by HTMX requests: polls (the inbox badge, the inbox
list, a live trace), filters, decisions. Once the session has ended, Django's `login_required`
answers such a request with a redirect to the login form; the browser follows it inside the
request and HTMX swaps the whole login page into a badge or a table. `page_login_required`
answers an HTMX request with `HX-Redirect` instead: the browser leaves the page for the login
form, whose `next` is the page it was showing (not the partial it asked for), so logging in
brings the user back to it. Any other request is redirected exactly as `login_required` does.

Every view of a page and its partials uses it (tests/test_pages_login.py walks the URLs to check).
API endpoints (/api/: API keys, JSON errors) and /healthz are not pages.
"""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django_htmx.http import HttpResponseClientRedirect


def page_login_required(view):
    """`view` for signed-in users; a signed-out browser goes to the login form, from HTMX too."""
    protected = login_required(view)

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.htmx and not request.user.is_authenticated:
            # The page in the browser (same origin only), else this request's URL.
            page = request.htmx.current_url_abs_path or request.get_full_path()
            return HttpResponseClientRedirect(redirect_to_login(page).url)
        return protected(request, *args, **kwargs)

    wrapper.page_login_required = True
    return wrapper
