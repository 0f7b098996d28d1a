import os

from django.apps import AppConfig
from django.conf import settings


class DemoConfig(AppConfig):
    name = "demo"
    verbose_name = "Demo"

    def ready(self):
        # Importing the module registers its @tool functions; `tool_sync` (after migrations, from
        # seed_demo and at the worker's start-up) writes their rows.
        from demo import python_tools  # noqa: F401
        from demo.billing import DEV_TOKEN, TOKEN_NAME

        if settings.DEBUG:
            # The documented development token of the demo billing endpoint, so that `make run`
            # works with no set-up; the secret resolver reads it like any other secret.
            os.environ.setdefault(TOKEN_NAME, DEV_TOKEN)
