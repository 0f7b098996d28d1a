"""Websocket routes. Apps add their consumers here as they gain live views."""

websocket_urlpatterns: list = []
