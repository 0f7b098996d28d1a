"""Encryption of stored secret values: Fernet (AES-128-CBC + HMAC-SHA256) under a MultiFernet.

`AGENTOPS_SECRET_KEYS` is a comma-separated list of Fernet keys (`Fernet.generate_key()`): the
first encrypts, every one decrypts. To rotate, put a new key first, run `manage.py secrets
rotate` (re-encrypts every value with it), then drop the old key.

Without keys (development, tests) one key is derived from SECRET_KEY, so `make run` needs nothing
more; a system check warns when DEBUG is off and no key is set, since then changing SECRET_KEY
makes every stored value unreadable.
"""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

__all__ = ["InvalidToken", "decrypt", "encrypt", "fernet", "keys_configured"]


def keys_configured() -> bool:
    return bool(settings.AGENTOPS_SECRET_KEYS)


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.AGENTOPS_SECRET_KEYS), settings.SECRET_KEY)


@lru_cache(maxsize=4)  # keyed by the settings, so a test that overrides them gets its own
def _fernet(keys: tuple[str, ...], secret_key: str) -> MultiFernet:
    if not keys:
        derived = hashlib.sha256(b"agentops.secrets:" + secret_key.encode()).digest()
        keys = (base64.urlsafe_b64encode(derived).decode(),)
    return MultiFernet([Fernet(key) for key in keys])


def encrypt(value: str) -> str:
    return fernet().encrypt(value.encode()).decode("ascii")


def decrypt(token: str) -> str:
    """The value; raises InvalidToken when no configured key opens it."""
    return fernet().decrypt(token.encode("ascii")).decode()
