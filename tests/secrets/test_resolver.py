import json

import pytest

from agentops.secrets.resolver import PLATFORM_ENV_PREFIX, SecretError, SecretResolver, references
from tools.adapters.base import AdapterError


def platform(values: dict, secrets_file=""):
    """A global tool's resolver over an environment holding `values` as AGENTOPS_SECRET_<NAME>."""
    return SecretResolver.for_platform(environ={PLATFORM_ENV_PREFIX + k: v for k, v in values.items()},
                                       secrets_file=secrets_file)


def test_references_are_resolved_in_nested_config_whitespace_tolerant():
    # Given a config with references at several depths, spaced differently
    resolver = platform({"A": "alpha", "B": "beta"})
    config = {"h": {"x": "Bearer {{secret:A}}"}, "l": ["{{  secret : B  }}", 3], "n": None}

    # When it is resolved
    resolved = resolver.resolve(config)

    # Then every reference is substituted and everything else kept
    assert resolved == {"h": {"x": "Bearer alpha"}, "l": ["beta", 3], "n": None}
    assert config["h"]["x"] == "Bearer {{secret:A}}"  # The stored config is untouched.


def test_secrets_file_in_key_value_format_is_read(tmp_path):
    # Given a KEY=VALUE secrets file with a comment and quotes
    path = tmp_path / "secrets.env"
    path.write_text("# CRM\nCRM_TOKEN = 'from-file'\n\nOTHER=x=y\n")
    resolver = platform({}, secrets_file=path)

    # When/Then values are read, quotes stripped and '=' kept inside values
    assert resolver.get("CRM_TOKEN") == "from-file"
    assert resolver.get("OTHER") == "x=y"


def test_environment_wins_over_a_json_secrets_file(tmp_path):
    # Given the same secret in a JSON file and in the environment
    path = tmp_path / "secrets.json"
    path.write_text(json.dumps({"CRM_TOKEN": "from-file", "ONLY_FILE": "f"}))
    resolver = platform({"CRM_TOKEN": "from-env"}, secrets_file=path)

    # When/Then the environment's value is used, the file fills the gaps
    assert resolver.resolve("{{ secret:CRM_TOKEN }}/{{ secret:ONLY_FILE }}") == "from-env/f"


def test_secrets_file_path_comes_from_settings(tmp_path, settings):
    # Given AGENTOPS_SECRETS_FILE pointing at a file
    path = tmp_path / "secrets.env"
    path.write_text("FROM_SETTINGS=yes\n")
    settings.AGENTOPS_SECRETS_FILE = str(path)

    # When/Then a resolver built without arguments reads it
    assert platform({}, secrets_file=None).get("FROM_SETTINGS") == "yes"


def test_unknown_secret_error_names_it_and_resolves_nothing():
    # Given one known and one unknown secret
    resolver = platform({"KNOWN": "k-value"})

    # When a value referencing the unknown one is resolved
    with pytest.raises(SecretError) as caught:
        resolver.resolve(["{{ secret:KNOWN }}", "{{ secret:NOPE }}"])

    # Then the error names the missing secret and shows no value
    assert "'NOPE'" in str(caught.value)
    assert "k-value" not in str(caught.value)


def test_redact_replaces_resolved_values_everywhere():
    # Given a resolver that resolved a token containing URL-special characters
    resolver = platform({"T": 'p@ss "w"/1'})
    resolver.resolve("{{ secret:T }}")

    # When results holding it raw, URL-quoted (both ways) and JSON-escaped are redacted
    redacted = resolver.redact(
        {
            "raw": 'x p@ss "w"/1 y',
            "list": ["p%40ss%20%22w%22%2F1", ("p%40ss+%22w%22%2F1",)],
            "json": json.dumps({"token": 'p@ss "w"/1'}),
            'p@ss "w"/1': 1,
        }
    )

    # Then each form is replaced by the secret's name
    assert redacted == {
        "raw": "x [secret:T] y",
        "list": ["[secret:T]", ("[secret:T]",)],
        "json": '{"token": "[secret:T]"}',
        "[secret:T]": 1,
    }


def test_redact_rewrites_exception_messages_and_their_cause():
    # Given an error whose message and cause quote a resolved secret
    resolver = platform({"T": "hunter2"})
    resolver.get("T")
    error = AdapterError("denied for hunter2", retryable=False, status=403)
    error.__cause__ = ValueError("token hunter2 expired")

    # When it is redacted
    same = resolver.redact(error)

    # Then the message and the cause no longer contain the value; the flags are kept
    assert same is error
    assert str(error) == "denied for [secret:T]" and error.message == "denied for [secret:T]"
    assert str(error.__cause__) == "token [secret:T] expired"
    assert (error.retryable, error.status) == (False, 403)


def test_redact_leaves_text_alone_before_anything_is_resolved():
    # Given a resolver that has resolved nothing
    resolver = platform({"T": "hunter2"})

    # When/Then redaction changes nothing, even text equal to a defined secret
    assert resolver.redact({"a": "hunter2"}) == {"a": "hunter2"}


def test_references_lists_names_without_resolving():
    # Given a config referencing two secrets, one twice
    config = {"headers": {"A": "{{ secret:ONE }}", "B": "x {{secret:TWO}} {{ secret:ONE }}"}, "n": 1}

    # When/Then the names are listed, with no environment needed
    assert references(config) == {"ONE", "TWO"}
    assert SecretResolver.references(config) == {"ONE", "TWO"}


def test_a_platform_resolver_reads_only_prefixed_variables(tmp_path):
    # Given an environment with a bare variable and a prefixed one, and a secrets file
    path = tmp_path / "secrets.env"
    path.write_text("FROM_FILE=f-value\n")
    resolver = SecretResolver.for_platform(
        environ={"SECRET_KEY": "django-key", "AGENTOPS_SECRET_CRM_TOKEN": "crm-value"}, secrets_file=path)

    # When/Then the prefixed variable and the file resolve, the bare variable does not
    assert resolver.get("CRM_TOKEN") == "crm-value"
    assert resolver.get("FROM_FILE") == "f-value"
    with pytest.raises(SecretError, match="'SECRET_KEY' is not defined in the platform's secrets") as caught:
        resolver.get("SECRET_KEY")
    assert "django-key" not in str(caught.value)
