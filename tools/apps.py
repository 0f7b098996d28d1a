import importlib
import os

from django.apps import AppConfig
from django.conf import settings
from django.db import connections
from django.db.models.signals import post_migrate


class ToolsConfig(AppConfig):
    name = "tools"
    verbose_name = "Tools"

    def ready(self):
        # Imports and signal wiring only: the registry rows are written by `tool_sync`, after
        # migrations (below), from seed_demo and from the worker's start-up.
        from tools import python_tools  # noqa: F401  (registers the "python" adapter kind)
        from tools.demo.billing import DEV_TOKEN, TOKEN_NAME

        for module in settings.AGENTOPS_TOOL_MODULES:
            importlib.import_module(module)
        if settings.DEBUG:
            # The documented development token of the demo billing endpoint, so that `make run`
            # works with no set-up; the secret resolver reads it like any other secret.
            os.environ.setdefault(TOKEN_NAME, DEV_TOKEN)
        post_migrate.connect(sync_after_migrate, sender=self, dispatch_uid="tools.sync_after_migrate")


def sync_after_migrate(sender, using="default", **kwargs):
    """Keep the Python tools' rows current after every `migrate` (idempotent; no-op if unmigrated)."""
    from tools.models import Tool
    from tools.services import tool_sync

    if using != "default" or Tool._meta.db_table not in connections[using].introspection.table_names():
        return
    tool_sync()
