"""Secrets: each tenant's own, encrypted at rest, and the platform's for global tools.

    references.py  the `{{ secret:NAME }}` reference syntax and the name pattern
    crypto.py      encryption of stored values (MultiFernet over AGENTOPS_SECRET_KEYS)
    models.py      TenantSecret: a tenant's named value, encrypted
    services.py    set, delete, re-encrypt (each one transaction, audited by name, never by value)
    selectors.py   reads, scoped to a tenant
    resolver.py    SecretResolver: resolves references for one tool call or delivery and redacts
    api.py         /api/v1/secrets/ (write-only: a value is never sent back)
"""
