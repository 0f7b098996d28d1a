from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "demo"
    verbose_name = "Demo"

    def ready(self):
        # Importing the module registers its @tool functions; `tool_sync` (after migrations, from
        # seed_demo and at the worker's start-up) writes their rows.
        from demo import python_tools  # noqa: F401
