import sys

from django.apps import AppConfig


class RunsConfig(AppConfig):
    name = "runs"
    verbose_name = "Runs"

    def ready(self):
        # Register the built-in workflows, and the project's own (settings.WORKFLOW_MODULES), so
        # that every process, web or worker, knows them by name.
        from importlib import import_module

        from django.conf import settings

        from agentops.agents.validation import config_check
        from agentops.memory.forgetting import register_forgetter
        from runs.forgetting import runs_forget
        from runs import workflows  # noqa: F401
        from runs.registry import agent_workflow_errors

        config_check(agent_workflow_errors)
        register_forgetter(runs_forget)
        for module in settings.WORKFLOW_MODULES:
            import_module(module)
        if sys.argv[1:2] == ["qcluster"]:
            _preload_engine()
            _recover_in_workers()


def _preload_engine() -> None:
    """In the worker command, import what runs need (the engine, the tool gateway, the openai
    client: about a second) before django-q2 forks its workers: every worker, and each one it
    starts when it recycles one, shares these pages instead of importing them at its first run."""
    from agentops.llm import openai_provider  # noqa: F401
    from runs import tasks  # noqa: F401
    from tools import gateway  # noqa: F401


def _recover_in_workers() -> None:
    """Each worker process of the cluster recovers stranded runs as it starts, then every few
    seconds (runs.recovery)."""
    from django_q.signals import post_spawn

    from runs.recovery import worker_started

    post_spawn.connect(worker_started, dispatch_uid="runs.recovery")
