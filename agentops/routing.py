"""Websocket routes. Apps add their consumers here as they gain live views."""

from django.urls import path

from runs.consumers import InboxConsumer, RunConsumer

websocket_urlpatterns: list = [
    path("ws/runs/<uuid:run_id>/", RunConsumer.as_asgi()),
    path("ws/inbox/", InboxConsumer.as_asgi()),
]
