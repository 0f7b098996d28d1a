from django.apps import AppConfig


class RunsConfig(AppConfig):
    name = "runs"
    verbose_name = "Runs"

    def ready(self):
        # Register the built-in workflows, and the project's own (settings.WORKFLOW_MODULES), so
        # that every process, web or worker, knows them by name.
        from importlib import import_module

        from django.conf import settings

        from agentops import config_cache
        from runs import workflows  # noqa: F401

        config_cache.connect_invalidation()

        for module in getattr(settings, "WORKFLOW_MODULES", []):
            import_module(module)
