from django.apps import AppConfig


class RunsConfig(AppConfig):
    name = "runs"
    verbose_name = "Runs"

    def ready(self):
        # Register the built-in workflows (agent_loop) so every process knows them by name.
        from runs import workflows  # noqa: F401
