"""The `file` source: a YAML document `{channelRoutings: [ChannelRouting, ...]}`."""

from __future__ import annotations

from pathlib import Path

import yaml
from django.conf import settings

from agents.sources import FetchResult, SourceError
from agents.specs import SpecError, parse_channel_routing


class FileSource:
    name = "file"

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path or settings.AGENT_REGISTRY_FILE or "")

    def load_all(self) -> FetchResult:
        if not str(self.path) or str(self.path) == ".":
            raise SourceError("REGISTRY_SOURCE=file needs AGENT_REGISTRY_FILE")
        try:
            document = yaml.safe_load(self.path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise SourceError(f"cannot read {self.path}: {exc.strerror or exc}") from None
        except yaml.YAMLError as exc:
            raise SourceError(f"{self.path} is not valid YAML: {exc}") from None
        if document is None:
            return FetchResult(routings=[])
        if not isinstance(document, dict) or not isinstance(document.get("channelRoutings", []), list):
            raise SourceError(f"{self.path}: expected a mapping with a list 'channelRoutings'")
        result = FetchResult(routings=[])
        for index, item in enumerate(document.get("channelRoutings") or []):
            try:
                result.routings.append(parse_channel_routing(item))
            except SpecError as exc:
                result.warnings.append(f"channelRoutings[{index}]: {exc}")
        return result

    def fetch(self, *, tenant_id: str, subset: str) -> FetchResult:
        everything = self.load_all()
        return FetchResult(
            routings=[r for r in everything.routings if r.tenant_id == tenant_id and r.subset == subset],
            warnings=everything.warnings,
        )

    def tenants(self) -> list[tuple[str, str]]:
        """(tenant, subset) pairs the file describes, so a file registry syncs itself."""
        return sorted({(r.tenant_id, r.subset) for r in self.load_all().routings})
