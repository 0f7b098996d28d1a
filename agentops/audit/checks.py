"""System checks of the audit keys (see keys.py)."""

from django.conf import settings
from django.core import checks

from .keys import AuditKeyError, parse_keys

MIN_SECRET_LENGTH = 32


@checks.register(checks.Tags.security)
def audit_keys_check(app_configs, **kwargs):
    try:
        keys = parse_keys(settings.AGENTOPS_AUDIT_KEYS)
    except AuditKeyError as exc:
        return [checks.Error(f"AGENTOPS_AUDIT_KEYS: {exc}.", hint="A comma-separated list of id:secret, the signing key first.",
                             id="audit.E001")]
    problems = [checks.Warning(f"The audit key {key.id!r} is shorter than {MIN_SECRET_LENGTH} characters.",
                               hint="Use a random secret, e.g. `openssl rand -hex 32`.", id="audit.W002")
                for key in keys if len(key.secret) < MIN_SECRET_LENGTH]
    if not keys and not settings.DEBUG:
        problems.append(checks.Warning(
            "AGENTOPS_AUDIT_KEYS is not set: the audit chains are signed with a key derived from SECRET_KEY.",
            hint="Set AGENTOPS_AUDIT_KEYS=id:secret (kept apart from the database) so that the key is not "
                 "bound to SECRET_KEY and can be rotated.", id="audit.W001"))
    return problems
