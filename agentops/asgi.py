"""ASGI entry point: HTTP through Django, websockets through channels (live traces, inbox)."""

import os

import django

from agentops.asgi_handler import ASGIHandler

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "agentops.settings")
django.setup(set_prefix=False)  # as django.core.asgi.get_asgi_application() does

# Django's handler, but an event stream holds no thread while it waits (agentops/asgi_handler.py).
django_asgi_app = ASGIHandler()

from channels.auth import AuthMiddlewareStack  # noqa: E402  (needs the app registry)
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import OriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402

from agentops.routing import websocket_urlpatterns  # noqa: E402


class AllowedHostsOriginValidator(OriginValidator):
    """Sockets only from this site's own pages: the Origin must be one of ALLOWED_HOSTS.

    A browser sends the session cookie with a websocket opened by any site's page; without this
    check another site could follow a signed-in operator's runs and inbox. Channels' validator of
    the same name reads ALLOWED_HOSTS once at start-up; this one reads it as each socket opens,
    so it follows the settings in force.
    """

    def __init__(self, application):
        super().__init__(application, allowed_origins=None)

    def valid_origin(self, parsed_origin):
        hosts = settings.ALLOWED_HOSTS
        if parsed_origin is None:
            return "*" in hosts
        return any(pattern == "*" or self.match_allowed_origin(parsed_origin, pattern) for pattern in hosts)


application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
