"""The keys that sign the audit chains and their anchors (HMAC-SHA256).

`AGENTOPS_AUDIT_KEYS` lists `id:secret` pairs, the signing key first; the others only verify
what they signed before a rotation. Without it, a key derived from SECRET_KEY signs (id
`secret-key`; a system check warns when DEBUG is off). That derived key always verifies, so
events signed before the variable was set stay verifiable; it is as secret as SECRET_KEY.
Someone who can write the database but holds neither key cannot produce a chain that verifies.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from dataclasses import dataclass, field

from django.conf import settings
from django.utils.crypto import salted_hmac

DERIVED_KEY_ID = "secret-key"
KEY_ID_MAX_LENGTH = 32


class AuditKeyError(Exception):
    pass


@dataclass(frozen=True)
class AuditKey:
    id: str
    secret: bytes = field(repr=False)

    def sign(self, text: str) -> str:
        mac = _prepared_hmac(self.secret).copy()  # the key's pads are hashed once per process
        mac.update(text.encode())
        return mac.hexdigest()

    def matches(self, text: str, signature: str) -> bool:
        return hmac.compare_digest(self.sign(text), signature)


@functools.lru_cache(maxsize=16)
def _prepared_hmac(secret: bytes):
    return hmac.new(secret, digestmod=hashlib.sha256)


def signing_key() -> AuditKey:
    """The key new events and anchors are signed with."""
    return _keyring(tuple(settings.AGENTOPS_AUDIT_KEYS), settings.SECRET_KEY)[0]


def key_get(key_id: str) -> AuditKey | None:
    """The key with this id, or None when it is not configured (any more)."""
    return _keyring(tuple(settings.AGENTOPS_AUDIT_KEYS), settings.SECRET_KEY)[1].get(key_id)


def parse_keys(entries) -> list[AuditKey]:
    """`id:secret` entries as keys, in order; AuditKeyError names the first bad one."""
    keys, seen = [], set()
    for position, entry in enumerate(entries, start=1):
        key_id, colon, secret = entry.partition(":")
        key_id = key_id.strip()
        if not colon or not key_id or not secret:
            raise AuditKeyError(f"entry {position} is not `id:secret`")
        if len(key_id) > KEY_ID_MAX_LENGTH or key_id in seen or key_id == DERIVED_KEY_ID:
            raise AuditKeyError(f"entry {position}: key id {key_id!r} is too long, repeated or reserved")
        seen.add(key_id)
        keys.append(AuditKey(key_id, secret.encode()))
    return keys


def derived_key(secret_key: str) -> AuditKey:
    return AuditKey(DERIVED_KEY_ID, salted_hmac("agentops.audit.chain", "key", secret=secret_key).digest())


@functools.lru_cache(maxsize=4)
def _keyring(entries: tuple[str, ...], secret_key: str) -> tuple[AuditKey, dict[str, AuditKey]]:
    derived = derived_key(secret_key)
    configured = parse_keys(entries)
    by_id = {key.id: key for key in [*configured, derived]}
    return (configured[0] if configured else derived), by_id
