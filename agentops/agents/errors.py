"""The errors of the agents app, `agentops.errors.CodedError`s."""

from agentops.errors import CodedError


class AgentInvalid(CodedError):
    """An agent's settings or access cannot be saved as given; `details` is {field: [message, ...]}."""

    def __init__(self, errors: dict[str, list[str]]):
        message = "; ".join(f"{field}: {' '.join(messages)}" for field, messages in errors.items())
        super().__init__("invalid", message, details=errors)


class AgentRestricted(CodedError):
    """`user` may not start runs of `agent`: it is restricted to other users and groups."""

    def __init__(self, user, agent):
        who = user.get_username() if user is not None else "a run acting for no user"
        super().__init__("agent_restricted", f"{who} may not start {agent.slug}: the agent is restricted to the "
                                             "users and groups given access to it")


class AgentDrainRefused(CodedError):
    """A version cannot be drained or undrained as asked (`unknown_version`, `current_version`)."""
