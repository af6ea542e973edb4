"""Source and strategy names are listed once, in their registries; every other list of them
(settings validation, the admin's test-routing page, route_eval, the Helm values schema)
must say the same."""

from __future__ import annotations

import json
from pathlib import Path

from agents.sources import SOURCES
from routing.strategies import STRATEGIES

ROOT = Path(__file__).resolve().parent.parent
# The strategies that choose an agent themselves; "explicit" only honours explicitAgent.
CHOOSING = [name for name in STRATEGIES if name != "explicit"]


def _helm_enum(name: str) -> list[str]:
    schema = json.loads((ROOT / "helm" / "lmos-runtime" / "values.schema.json").read_text())
    return schema["properties"]["config"]["properties"][name]["enum"]


def test_settings_accept_exactly_the_registered_sources_and_strategies(settings):
    assert list(settings.REGISTRY_SOURCES) == list(SOURCES)
    assert list(settings.ROUTER_TYPES) == list(STRATEGIES)


def test_the_helm_schema_allows_exactly_the_registered_names():
    assert _helm_enum("REGISTRY_SOURCE") == list(SOURCES)
    assert _helm_enum("ROUTER_TYPE") == list(STRATEGIES)


def test_the_admin_and_route_eval_offer_every_choosing_strategy():
    from routing.admin import TestRoutingForm
    from routing.management.commands.route_eval import Command

    form_choices = [value for value, _ in TestRoutingForm.base_fields["router"].choices if value]
    assert form_choices == CHOOSING
    parser = Command().create_parser("manage.py", "route_eval")
    (router,) = [action for action in parser._actions if action.dest == "router"]
    assert list(router.choices) == CHOOSING


def test_every_registered_name_loads():
    from agents.sources import get_source
    from routing.strategies import get_strategy

    for name in SOURCES:
        assert get_source(name).name == name
    for name in STRATEGIES:
        assert get_strategy(name).name == name
