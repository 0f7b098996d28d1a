import importlib

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
        # Modules whose @tool functions every process registers (an app may also import its own).
        for module in ["tools.memory_tools", *settings.AGENTOPS_TOOL_MODULES]:  # the built-in ones first
            importlib.import_module(module)
        from agentops.agents.validation import config_check
        from tools.selectors import agent_tools_errors

        config_check(agent_tools_errors)
        post_migrate.connect(sync_after_migrate, sender=self, dispatch_uid="tools.sync_after_migrate")


def sync_after_migrate(sender, using="default", **kwargs):
    """Keep the Python tools' rows current after every `migrate` (idempotent; no-op if unmigrated)."""
    from tools.models import Tool
    from tools.services import tool_sync

    if using != "default" or Tool._meta.db_table not in connections[using].introspection.table_names():
        return
    tool_sync()
