"""AgentOps: a backend for AI agents — durable runs, a tool gateway, approvals and an audit trail."""
