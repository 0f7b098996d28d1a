from django.core.management.base import BaseCommand, CommandError

from agentops.audit.services import Actor
from agentops.secrets.crypto import InvalidToken, keys_configured
from agentops.secrets.services import secret_rotate_all


class Command(BaseCommand):
    help = "Tenants' secrets. `rotate`: re-encrypt every stored value with the first key of AGENTOPS_SECRET_KEYS."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["rotate"])

    def handle(self, *args, action, **options):
        if not keys_configured():
            self.stderr.write("AGENTOPS_SECRET_KEYS is not set: re-encrypting with the key derived from SECRET_KEY.")
        try:
            count = secret_rotate_all(actor=Actor.system("secrets rotate"))
        except InvalidToken:
            raise CommandError("A stored value opens with none of the keys in AGENTOPS_SECRET_KEYS: keep the key it "
                               "was encrypted with in the list (after the new first key) and run this again.") from None
        self.stdout.write(f"re-encrypted {count} secrets with the first key")
