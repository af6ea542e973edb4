"""`python manage.py route_learn`: learn routing examples from traffic now, on every active
channel (what beat or the embedded scheduler does every ROUTER_LEARN_INTERVAL when
ROUTER_LEARN_FROM_TRAFFIC is on). Runs whatever that setting says: it is the operator's
explicit request. `--forget` drops every channel's learned examples instead."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from agents.models import Channel
from routing.learning import forget, learn_all


class Command(BaseCommand):
    help = "Learn vector-router examples from the traffic of every active channel (or --forget them)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--forget", action="store_true", help="drop every channel's learned examples")

    def handle(self, *args, **options) -> None:
        if options["forget"]:
            channels = list(Channel.objects.all())
            for channel in channels:
                forget(channel)
            self.stdout.write(f"forgot the learned examples of {len(channels)} channel(s)")
            return
        for channel, count in learn_all().items():
            self.stdout.write(f"{channel}: {count} learned examples")
