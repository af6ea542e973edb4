"""Registry sources: where the runtime learns which agents exist.

A source fetches the ChannelRoutings of one (tenant, subset). Adding a source is one new
module here and one line in `SOURCES`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Protocol

from django.conf import settings

from agents.specs import ChannelRoutingSpec


class SourceError(Exception):
    """The source could not be read: the last good registry must be kept."""


@dataclass
class FetchResult:
    routings: list[ChannelRoutingSpec]
    # ChannelRoutings that were skipped, each with the reason (kept in the SyncRun).
    warnings: list[str] = field(default_factory=list)
    # Channel ids the source lists but whose routing could not be used this time: the sync
    # keeps what it stored for them instead of deactivating them.
    unreadable: set[str] = field(default_factory=set)


def routing_labels(obj: object) -> tuple[str, str, str]:
    """(tenant, channel, subset) labels of a raw ChannelRouting, best effort ("" when absent).

    Used for routings that fail to parse, to know which stored channel to leave alone.
    """
    metadata = obj.get("metadata") if isinstance(obj, dict) else None
    labels = metadata.get("labels") if isinstance(metadata, dict) else None
    if not isinstance(labels, dict):
        return "", "", ""
    return tuple(str(labels.get(k) or "").strip() for k in ("tenant", "channel", "subset"))  # type: ignore[return-value]


class RegistrySource(Protocol):
    name: str

    def fetch(self, *, tenant_id: str, subset: str) -> FetchResult: ...


SOURCES = {
    "operator": "agents.sources.operator.OperatorSource",
    "kubernetes": "agents.sources.kubernetes.KubernetesSource",
    "file": "agents.sources.file.FileSource",
}


def get_source(name: str | None = None) -> RegistrySource:
    path = SOURCES[name or settings.REGISTRY_SOURCE]
    module_name, class_name = path.rsplit(".", 1)
    return getattr(importlib.import_module(module_name), class_name)()
