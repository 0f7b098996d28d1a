"""Thread and long-term memory (scoped to user, agent or tenant). Filled in by the memory work."""
