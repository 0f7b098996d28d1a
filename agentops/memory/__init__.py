"""Long-term memory items scoped to a user, an agent or the tenant: store, dedupe, retrieval."""
