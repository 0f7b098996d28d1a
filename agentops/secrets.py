"""Secret references in configuration (tools, webhook signing secrets), resolved at call time and
redacted afterwards.

A stored configuration never holds a secret value, only a reference such as
`"Authorization": "Bearer {{ secret:CRM_TOKEN }}"`. `SecretResolver.resolve` substitutes the value
when an adapter is about to make a call; the resolver remembers every value it handed out, and
`SecretResolver.redact` replaces those values with `[secret:NAME]` in anything that is about to be
shown or stored (results, error messages, traces).

Values come from the process environment, then from the optional secrets file named by
`settings.AGENTOPS_SECRETS_FILE` (a JSON object, or KEY=VALUE lines with `#` comments). The
environment wins so that one process can override a shared file.

Only configuration is ever resolved. Tool arguments are written by the model and must never be
passed through `resolve`: otherwise a prompt could ask for `{{ secret:DB_PASSWORD }}` and get it.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

from django.conf import settings

REFERENCE = re.compile(r"\{\{\s*secret\s*:\s*([A-Za-z_][A-Za-z0-9_.\-]*)\s*\}\}")


class SecretError(LookupError):
    """A secret cannot be resolved. The message names the secret, never a value."""


def references(config: Any) -> set[str]:
    """The names of all secrets referenced in the string values of `config`, at any depth."""
    found: set[str] = set()
    _walk_strings(config, lambda s: found.update(REFERENCE.findall(s)))
    return found


def _walk_strings(obj: Any, visit) -> None:
    if isinstance(obj, str):
        visit(obj)
    elif isinstance(obj, Mapping):
        for value in obj.values():
            _walk_strings(value, visit)
    elif isinstance(obj, (list, tuple)):
        for value in obj:
            _walk_strings(value, visit)


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

    One resolver serves one tool call (or a few): it keeps the values it resolved in memory so
    that it can redact them, and forgets them with itself. Not shared between threads.
    """

    references = staticmethod(references)

    def __init__(
        self,
        *,
        environ: Mapping[str, str] | None = None,
        secrets_file: str | Path | None = None,
    ) -> None:
        """`environ` defaults to `os.environ`; `secrets_file` to `settings.AGENTOPS_SECRETS_FILE`."""
        self._environ = os.environ if environ is None else environ
        if secrets_file is None:
            secrets_file = settings.AGENTOPS_SECRETS_FILE
        self._secrets_file = secrets_file
        self._file_values: dict[str, str] | None = None
        self._resolved: dict[str, str] = {}

    def get(self, name: str) -> str:
        """The value of secret `name`; raises SecretError if it is not defined anywhere."""
        value = self._environ.get(name)
        if value is None and self._secrets_file:
            if self._file_values is None:
                # Read lazily and once: most calls reference only environment secrets.
                self._file_values = load_secrets_file(self._secrets_file)
            value = self._file_values.get(name)
        if value is None:
            where = "the environment" + (" or the secrets file" if self._secrets_file else "")
            raise SecretError(f"Secret {name!r} is not defined in {where}.")
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
