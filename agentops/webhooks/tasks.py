"""django-q2 entry points of webhooks: thin, idempotent, loading by id."""

from .services import webhook_delivery_attempt


def deliver(delivery_id) -> None:
    """Make the delivery's next attempt if it is due (see services.webhook_delivery_attempt)."""
    webhook_delivery_attempt(delivery_id=delivery_id)
