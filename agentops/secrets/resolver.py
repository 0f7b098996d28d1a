"""Secret references in configuration (tools, webhook signing secrets), resolved at call time and
redacted afterwards.

A stored configuration never holds a secret value, only a reference such as
`"Authorization": "Bearer {{ secret:CRM_TOKEN }}"`. `SecretResolver.resolve` substitutes the value
when an adapter is about to make a call; the resolver remembers every value it handed out, and
`SecretResolver.redact` replaces those values with `[secret:NAME]` in anything that is about to be
shown or stored (results, error messages, traces).

Where values come from depends on whose configuration it is, because a tool runs with its owner's
powers, never the platform's:

- a tenant's tool or webhook (`SecretResolver.for_tenant`): only that tenant's own secrets
  (agentops.secrets.models.TenantSecret, stored encrypted), never the process environment;
- a global tool, defined by platform admins (`SecretResolver.for_platform`): the environment
  variable `AGENTOPS_SECRET_<NAME>`, then the optional secrets file named by
  `settings.AGENTOPS_SECRETS_FILE` (a JSON object, or KEY=VALUE lines with `#` comments). No other
  variable is ever read, so `{{ secret:SECRET_KEY }}` or `{{ secret:DATABASE_URL }}` resolve to
  nothing.

Only configuration is ever resolved. Tool arguments are written by the model and must never be
passed through `resolve`: otherwise a prompt could ask for `{{ secret:DB_PASSWORD }}` and get it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

from django.conf import settings

from .crypto import InvalidToken, decrypt
from .references import REFERENCE, references
from .selectors import secret_token

__all__ = ["PLATFORM_ENV_PREFIX", "REFERENCE", "SecretError", "SecretResolver", "load_secrets_file", "references"]

# The only environment variables a secret reference can reach: AGENTOPS_SECRET_<NAME>, but for
# AGENTOPS_SECRET_KEYS, which holds the keys tenants' secrets are encrypted with.
PLATFORM_ENV_PREFIX = "AGENTOPS_SECRET_"
NOT_A_SECRET = frozenset({"KEYS"})


class SecretError(LookupError):
    """A secret cannot be resolved. The message names the secret, never a value."""


def load_secrets_file(path: str | Path) -> dict[str, str]:
    """Parse a secrets file: a JSON object of strings, or KEY=VALUE lines."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise SecretError(f"The secrets file {str(path)!r} cannot be read: {exc.strerror}.") from None
    if text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            # The position only: the decoder's message could quote a value.
            raise SecretError(
                f"The secrets file {str(path)!r} is not valid JSON (line {exc.lineno})."
            ) from None
        bad = sorted(k for k, v in data.items() if isinstance(v, (dict, list)))
        if bad:
            raise SecretError(f"The secrets file {str(path)!r} has non-scalar values for {bad}.")
        return {str(k): str(v) for k, v in data.items() if v is not None}
    values: dict[str, str] = {}
    for lineno, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise SecretError(f"The secrets file {str(path)!r} line {lineno} is not KEY=VALUE.")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[key.strip()] = value
    return values


class SecretResolver:
    """Resolves secret references and redacts the values it resolved.

    Build one with `for_tool`, `for_tenant` or `for_platform`: the scope decides where values come
    from (see the module). One resolver serves one tool call or delivery (or a few): it keeps the
    values it resolved in memory so that it can redact them, and forgets them with itself. Not
    shared between threads.
    """

    references = staticmethod(references)

    def __init__(self, lookup: Callable[[str], str | None], *, where: str, tenant_id: int | None = None) -> None:
        """`lookup(name)` is a value or None; `where` ends the unknown-secret message ("is not
        defined in ..."); `tenant_id` is the tenant whose powers the resolver holds (None: the
        platform's)."""
        self._lookup = lookup
        self._where = where
        self.tenant_id = tenant_id
        self._resolved: dict[str, str] = {}

    @classmethod
    def for_tool(cls, tool) -> "SecretResolver":
        """A tenant's tool (its copy of a global one included) gets its tenant's secrets; a global
        tool the platform's."""
        return cls.for_platform() if tool.tenant_id is None else cls.for_tenant(tool.tenant_id)

    @classmethod
    def for_tenant(cls, tenant_id: int) -> "SecretResolver":
        def lookup(name: str) -> str | None:
            token = secret_token(tenant_id=tenant_id, name=name)
            if token is None:
                return None
            try:
                return decrypt(token)
            except InvalidToken:
                raise SecretError(f"Secret {name!r} cannot be decrypted with the keys in AGENTOPS_SECRET_KEYS.") from None

        return cls(lookup, where="this tenant's secrets", tenant_id=tenant_id)

    @classmethod
    def for_platform(
        cls, *, environ: Mapping[str, str] | None = None, secrets_file: str | Path | None = None
    ) -> "SecretResolver":
        """`environ` defaults to `os.environ`; `secrets_file` to `settings.AGENTOPS_SECRETS_FILE`.
        The environment wins over the file, so that one process can override a shared file."""
        environ = os.environ if environ is None else environ
        secrets_file = settings.AGENTOPS_SECRETS_FILE if secrets_file is None else secrets_file
        file_values: list[dict[str, str]] = []  # read lazily, once: most calls need only the environment

        def lookup(name: str) -> str | None:
            value = None if name in NOT_A_SECRET else environ.get(PLATFORM_ENV_PREFIX + name)
            if value is None and secrets_file:
                if not file_values:
                    file_values.append(load_secrets_file(secrets_file))
                value = file_values[0].get(name)
            return value

        where = f"{PLATFORM_ENV_PREFIX}<NAME> variables" + (" or the secrets file" if secrets_file else "")
        return cls(lookup, where=f"the platform's secrets ({where})")

    def get(self, name: str) -> str:
        """The value of secret `name`; raises SecretError naming it if it is not defined."""
        value = self._lookup(name)
        if value is None:
            raise SecretError(f"Secret {name!r} is not defined in {self._where}.")
        self._resolved[name] = value
        return value

    def resolve(self, obj: Any) -> Any:
        """A copy of `obj` with every `{{ secret:NAME }}` in its string values substituted.

        Walks dicts (values, not keys), lists and tuples; other values are returned unchanged.
        Raises SecretError naming the first unknown secret.
        """
        if isinstance(obj, str):
            return REFERENCE.sub(lambda m: self.get(m.group(1)), obj)
        if isinstance(obj, Mapping):
            return {key: self.resolve(value) for key, value in obj.items()}
        if isinstance(obj, (list, tuple)):
            return (list if isinstance(obj, list) else tuple)(self.resolve(v) for v in obj)
        return obj

    @property
    def resolved_names(self) -> set[str]:
        return set(self._resolved)

    def redact(self, obj: Any) -> Any:
        """Replace every value resolved so far with `[secret:NAME]`.

        Strings, dict keys and values, lists and tuples are copied. An exception is redacted in
        place (its `args`, and those of its `__cause__`/`__context__` chain, since tracebacks
        print them) and returned. Besides the raw value, its URL-quoted and JSON-escaped forms are
        redacted too, because that is how a value comes back inside URLs and echoed payloads.
        Anything else is returned unchanged.
        """
        if not self._resolved:
            return obj
        return self._redact(obj, self._patterns(), set())

    def _patterns(self) -> list[tuple[str, str]]:
        pairs: dict[str, str] = {}
        for name, value in self._resolved.items():
            if not value:
                continue  # An empty value would match everywhere and hides nothing.
            for form in (value, quote(value, safe=""), quote_plus(value), json.dumps(value)[1:-1]):
                pairs.setdefault(form, f"[secret:{name}]")
        # Longest first, so a value that contains another one is replaced whole.
        return sorted(pairs.items(), key=lambda pair: len(pair[0]), reverse=True)

    def _redact(self, obj: Any, patterns: list[tuple[str, str]], seen: set[int]) -> Any:
        if isinstance(obj, str):
            for value, marker in patterns:
                if value in obj:
                    obj = obj.replace(value, marker)
            return obj
        if isinstance(obj, Mapping):
            return {
                self._redact(k, patterns, seen): self._redact(v, patterns, seen) for k, v in obj.items()
            }
        if isinstance(obj, (list, tuple)):
            return (list if isinstance(obj, list) else tuple)(self._redact(v, patterns, seen) for v in obj)
        if isinstance(obj, BaseException):
            if id(obj) not in seen:  # Exception chains can be cyclic.
                seen.add(id(obj))
                obj.args = tuple(self._redact(a, patterns, seen) for a in obj.args)
                for linked in (obj.__cause__, obj.__context__):
                    if linked is not None:
                        self._redact(linked, patterns, seen)
            return obj
        return obj
