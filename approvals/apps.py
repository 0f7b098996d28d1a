from django.apps import AppConfig


class ApprovalsConfig(AppConfig):
    name = "approvals"
    verbose_name = "Approvals"

    def ready(self):
        # The engine opens, cancels and expires approval waits through runs.waits, never by name.
        from agentops.memory.forgetting import register_forgetter
        from runs.waits import wait_kind_register

        from .forgetting import approvals_forget
        from .waits import ApprovalWaits

        wait_kind_register("approval", ApprovalWaits())
        register_forgetter(approvals_forget)
