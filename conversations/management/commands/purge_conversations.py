from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from agents.models import Tenant
from conversations.services import conversations_purge


class Command(BaseCommand):
    help = "Delete conversations (with turns and routing decisions) inactive for more than DAYS days."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--older-than", type=int, required=True, metavar="DAYS")
        parser.add_argument("--tenant", help="Only this tenant")

    def handle(self, *args, older_than: int, tenant: str | None, **options) -> None:
        if older_than < 0:
            raise CommandError("--older-than must be 0 or more days")
        tenant_obj = None
        if tenant:
            tenant_obj = Tenant.objects.filter(tenant_id=tenant).first()
            if tenant_obj is None:
                raise CommandError(f"Unknown tenant {tenant!r}")
        conversations, turns = conversations_purge(older_than_days=older_than, tenant=tenant_obj)
        self.stdout.write(f"Deleted {conversations} conversations and {turns} turns older than {older_than} days.")
