"""django-q2 entry points of approvals: thin, idempotent, loading by id.

Expiry has no task of its own: the run sweeper calls `approvals.services.approval_expire_due`.
"""

from .webhooks import webhook_delivery_attempt


def deliver_webhook(delivery_id) -> None:
    webhook_delivery_attempt(delivery_id=delivery_id)
