"""Websockets that forward "changed" notices to open pages (see runs/live.py).

The socket carries no data: on `{"type": "changed"}` the page makes the same catch-up request its
polling makes. Authentication is the browser session (AuthMiddlewareStack); the tenant is the
one the session picked, exactly as for the page itself.
"""

from __future__ import annotations

from types import SimpleNamespace

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from agentops.tenancy.middleware import principal_for_session

from . import live
from .selectors import run_get_for_user

# Close codes in the application range (4000-4999), mirroring the HTTP statuses.
CLOSE_UNAUTHORISED = 4401
CLOSE_NOT_FOUND = 4404


@database_sync_to_async
def _principal(scope):
    request = SimpleNamespace(user=scope.get("user"), session=scope.get("session") or {})
    if request.user is None:
        return None
    return principal_for_session(request)


@database_sync_to_async
def _may_view_run(principal, run_id) -> bool:
    return run_get_for_user(principal=principal, run_id=run_id) is not None


class _ChangedConsumer(AsyncJsonWebsocketConsumer):
    """Joins one group after an access check and forwards its notices as `changed` pings."""

    group: str | None = None

    async def connect(self):
        principal = await _principal(self.scope)
        if principal is None:
            await self.close(code=CLOSE_UNAUTHORISED)
            return
        group = await self.group_for(principal)
        if group is None:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        self.group = group
        await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()

    async def group_for(self, principal) -> str | None:
        raise NotImplementedError

    async def disconnect(self, code):
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        """The browser has nothing to say; anything it sends is ignored."""


class RunConsumer(_ChangedConsumer):
    """`ws/runs/<uuid>/`: pings when the run's journal or status changes."""

    async def group_for(self, principal):
        run_id = self.scope["url_route"]["kwargs"]["run_id"]
        if not await _may_view_run(principal, run_id):
            return None
        return live.run_group(run_id)

    async def run_changed(self, event):
        await self.send_json({"type": "changed", "seq": event.get("seq")})


class InboxConsumer(_ChangedConsumer):
    """`ws/inbox/`: pings when an approval request of the session's tenant appears or is decided."""

    async def group_for(self, principal):
        if not principal.can("view"):
            return None
        return live.inbox_group(principal.tenant.pk)

    async def inbox_changed(self, event):
        await self.send_json({"type": "changed"})
