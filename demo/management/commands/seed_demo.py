from django.core.management import call_command
from django.core.management.base import BaseCommand

from demo.routers import DEMO_ALIAS
from demo.seed import DEMO_PASSWORD, PLATFORM_ADMIN, seed_demo, seed_memory_conversation


class Command(BaseCommand):
    help = "Create the demo database, the demo tenant, users and agents. Safe to run again."

    def handle(self, *args, **options):
        call_command("migrate", database=DEMO_ALIAS, interactive=False, verbosity=0)  # creates the file too
        done = seed_demo() + seed_memory_conversation()
        for line in done:
            self.stdout.write(line)
        self.stdout.write(f"demo tenant ready ({len(done)} changes). Users: operator, owner, approver, sam; "
                          f"platform admin {PLATFORM_ADMIN} (password {DEMO_PASSWORD!r} when DEBUG is on).")
