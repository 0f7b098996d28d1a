from agentops.errors import CodedError


class SecretInvalid(CodedError):
    """A name or value that cannot be stored: `code` says which ("invalid_name", "invalid_value",
    "value_too_large")."""
