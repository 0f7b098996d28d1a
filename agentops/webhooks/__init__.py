"""Outgoing webhooks: signed JSON events for a tenant's endpoints, delivered through the task queue."""
