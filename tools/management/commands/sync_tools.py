from django.core.management.base import BaseCommand

from tools.services import tool_sync


class Command(BaseCommand):
    help = "Create or update the registry rows of the Python tools (@tool). Safe to run again."

    def handle(self, *args, **options):
        done = tool_sync()
        for line in done:
            self.stdout.write(line)
        self.stdout.write(f"python tools in sync ({len(done)} changes).")
