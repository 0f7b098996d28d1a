from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "agentops.audit"
    label = "audit"
    verbose_name = "Audit log"

    def ready(self):
        from . import checks  # noqa: F401  (registers the system checks)
