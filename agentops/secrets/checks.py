from django.conf import settings
from django.core.checks import Warning, register

from .crypto import keys_configured


@register()
def secret_keys_check(app_configs, **kwargs):
    if settings.DEBUG or keys_configured():
        return []
    return [Warning(
        "AGENTOPS_SECRET_KEYS is not set: tenants' secrets are encrypted with a key derived from SECRET_KEY.",
        hint="Set AGENTOPS_SECRET_KEYS to a Fernet key (python -c 'from cryptography.fernet import Fernet; "
             "print(Fernet.generate_key().decode())'), then run `manage.py secrets rotate`.",
        id="agentops.secrets.W001",
    )]
