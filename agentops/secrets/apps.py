from django.apps import AppConfig


class SecretsConfig(AppConfig):
    name = "agentops.secrets"
    label = "secrets"
    verbose_name = "Secrets"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from agentops.secrets import checks  # noqa: F401  (registers the system check)
