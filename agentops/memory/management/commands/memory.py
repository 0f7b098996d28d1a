from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from agentops.memory.embeddings import memory_embed_pending
from agentops.memory.services import memory_purge_expired


class Command(BaseCommand):
    help = ("Memory items. `memory purge` deletes the expired items of every tenant (the hourly schedule "
            "does it too); `memory embed [--limit N]` embeds the items still without an embedding from "
            "AGENTOPS_EMBEDDINGS_MODEL.")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("purge", help="Delete every expired item, and only those.")
        embed = sub.add_parser("embed", help="Embed the items waiting for an embedding now.")
        embed.add_argument("--limit", type=int, default=10_000, help="At most this many items (default 10,000).")

    def handle(self, *args, action, **options):
        if action == "purge":
            self.stdout.write(f"{memory_purge_expired()} expired memory items deleted.")
            return
        if not settings.AGENTOPS_EMBEDDINGS_MODEL:
            raise CommandError("No embeddings model: set AGENTOPS_EMBEDDINGS_MODEL (and its base URL) first.")
        self.stdout.write(f"{memory_embed_pending(limit=options['limit'])} memory items embedded.")
