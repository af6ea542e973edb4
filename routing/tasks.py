"""Celery tasks of the router."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from routing.learning import learn_all


@shared_task(name="routing.tasks.learn_from_traffic", ignore_result=True)
def learn_from_traffic() -> dict[str, int]:
    """Scheduled by beat every ROUTER_LEARN_INTERVAL seconds when ROUTER_LEARN_FROM_TRAFFIC is on."""
    if not settings.ROUTER_LEARN_FROM_TRAFFIC:
        return {}
    return learn_all()
