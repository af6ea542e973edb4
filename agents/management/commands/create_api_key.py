from __future__ import annotations

from django.core.management.base import BaseCommand

from agents.models import ApiKey, Tenant


class Command(BaseCommand):
    help = "Create an API key for a tenant. The key is printed once, alone on the last line."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--tenant", required=True)
        parser.add_argument("--name", default="")

    def handle(self, *args, tenant: str, name: str, **options) -> None:
        tenant_obj, created = Tenant.objects.get_or_create(tenant_id=tenant, defaults={"origin": Tenant.Origin.ADMIN})
        _, raw = ApiKey.generate(tenant=tenant_obj, name=name)
        if created:
            self.stderr.write(f"created tenant {tenant}")
        self.stderr.write(f"API key for tenant {tenant} (store it now, it is not shown again):")
        self.stdout.write(raw)
