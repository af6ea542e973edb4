from __future__ import annotations

import asyncio

from django.core.management.base import BaseCommand

from demo.agents import DEMO_AGENTS, start_demo_agents


class Command(BaseCommand):
    help = "Serve the three demo Arc agents (billing, contracts, techsupport) on 127.0.0.1:9101-9103."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument(
            "--base-port", type=int, default=None, help="first of three consecutive ports; 0 lets the OS pick each"
        )

    def handle(self, *args, host: str, base_port: int | None, **options) -> None:
        async def main() -> None:
            servers = await start_demo_agents(host, base_port)
            for name, server in zip(DEMO_AGENTS, servers, strict=True):
                self.stdout.write(f"demo agent {name} on ws://{server.address}/subscriptions")
            self.stdout.flush()
            await asyncio.Event().wait()

        try:
            asyncio.run(main())
        except KeyboardInterrupt:
            pass
