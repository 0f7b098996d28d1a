from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "agentops.webhooks"
    label = "webhooks"
    verbose_name = "Webhooks"
