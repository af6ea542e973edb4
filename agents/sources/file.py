"""The `file` source: a YAML document `{channelRoutings: [ChannelRouting, ...]}`."""

from __future__ import annotations

from pathlib import Path

import yaml
from django.conf import settings

from agents.sources import FetchResult, SourceError, routing_labels
from agents.specs import SpecError, parse_channel_routing

# (tenant, channel, subset) labels of an entry that failed to parse, and the reason.
_Broken = tuple[tuple[str, str, str], str]


class FileSource:
    name = "file"

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path or settings.AGENT_REGISTRY_FILE or "")

    def _load(self) -> tuple[FetchResult, list[_Broken]]:
        if not str(self.path) or str(self.path) == ".":
            raise SourceError("REGISTRY_SOURCE=file needs AGENT_REGISTRY_FILE")
        try:
            document = yaml.safe_load(self.path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise SourceError(f"cannot read {self.path}: {exc.strerror or exc}") from None
        except yaml.YAMLError as exc:
            raise SourceError(f"{self.path} is not valid YAML: {exc}") from None
        if document is None:
            return FetchResult(routings=[]), []
        if not isinstance(document, dict) or not isinstance(document.get("channelRoutings") or [], list):
            raise SourceError(f"{self.path}: expected a mapping with a list 'channelRoutings'")
        result = FetchResult(routings=[])
        broken: list[_Broken] = []
        for index, item in enumerate(document.get("channelRoutings") or []):
            try:
                result.routings.append(parse_channel_routing(item))
            except SpecError as exc:
                result.warnings.append(f"channelRoutings[{index}]: {exc}")
                broken.append((routing_labels(item), result.warnings[-1]))
        return result, broken

    def load_all(self) -> FetchResult:
        return self._load()[0]

    def fetch(self, *, tenant_id: str, subset: str) -> FetchResult:
        everything, broken = self._load()
        # Warnings about other tenants' entries stay out of this tenant's SyncRun, and a
        # broken entry for one of this tenant's channels leaves the stored channel alone.
        mine = [(labels, warning) for labels, warning in broken if labels[0] in ("", tenant_id)]
        unreadable = {c for (t, c, s), _ in mine if c and t == tenant_id and (s or "stable") == subset}
        return FetchResult(
            routings=[r for r in everything.routings if r.tenant_id == tenant_id and r.subset == subset],
            warnings=[warning for _, warning in mine],
            unreadable=unreadable,
        )

    def tenants(self) -> list[tuple[str, str]]:
        """(tenant, subset) pairs the file describes, so a file registry syncs itself."""
        return sorted({(r.tenant_id, r.subset) for r in self.load_all().routings})
