from django.core.management.base import BaseCommand

from demo.seed import DEMO_PASSWORD, PLATFORM_ADMIN, seed_demo


class Command(BaseCommand):
    help = "Create the demo tenant, users and agents. Safe to run again."

    def handle(self, *args, **options):
        done = seed_demo()
        for line in done:
            self.stdout.write(line)
        self.stdout.write(f"demo tenant ready ({len(done)} changes). Users: operator, approver, sam; "
                          f"platform admin {PLATFORM_ADMIN} (password {DEMO_PASSWORD!r} when DEBUG is on).")
