"""Router strategies, one module each behind `routing.base.Strategy`.

Adding a strategy is one new module here and one line in `STRATEGIES`.
"""

from __future__ import annotations

import importlib

from routing.base import Strategy

STRATEGIES = {
    "vector": "routing.strategies.vector.VectorStrategy",
    "llm": "routing.strategies.llm.LlmStrategy",
    "hybrid": "routing.strategies.hybrid.HybridStrategy",
    "explicit": "routing.strategies.explicit.ExplicitStrategy",
}

_instances: dict[str, Strategy] = {}


def get_strategy(name: str) -> Strategy:
    """The strategy called `name` (one stateless instance per process)."""
    if name not in _instances:
        module_name, class_name = STRATEGIES[name].rsplit(".", 1)
        _instances[name] = getattr(importlib.import_module(module_name), class_name)()
    return _instances[name]
