"""The `operator` source: the LMOS Operator's HTTP API.

`GET {url}/apis/v1/tenants/{t}/channels` lists the tenant's channels (the channel id is
`metadata.labels.channel`); `GET .../channels/{c}/routing` gives one ChannelRouting, or
404 when the channel has none. The routings are fetched a few at a time over one
keep-alive client. Connection errors, timeouts and 5xx/429 answers are retried with
exponential backoff, and everything, retries included, must finish within
`AGENT_REGISTRY_TIMEOUT` seconds per (tenant, subset), else the fetch fails as a whole.
"""

from __future__ import annotations

import json
import re
import threading
import time
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from urllib.parse import quote

import httpx
from django.conf import settings

from agents.sources import FetchResult, SourceError
from agents.specs import ChannelRoutingSpec, SpecError, parse_channel_routing
from core.ids import ID_PATTERN

MAX_BODY_BYTES = 16 * 1024 * 1024
ID_PATTERN_RE = re.compile(ID_PATTERN)


class _Cancelled(Exception):
    """Another request of the same fetch failed: stop quietly."""


@dataclass
class _Routing:
    channel_id: str
    spec: ChannelRoutingSpec | None = None
    warning: str = ""


class OperatorSource:
    name = "operator"
    # Routings fetched in parallel; the LMOS Operator answers them from its informer cache.
    concurrency = 8
    backoff_initial = 0.1
    backoff_max = 1.0

    def __init__(self, base_url: str | None = None, *, timeout: float | None = None, namespace: str | None = None):
        self.base_url = (base_url or settings.AGENT_REGISTRY_URL).rstrip("/")
        self.timeout = float(timeout if timeout is not None else settings.AGENT_REGISTRY_TIMEOUT)
        self.namespace = namespace if namespace is not None else settings.LMOS_NAMESPACE

    def fetch(self, *, tenant_id: str, subset: str) -> FetchResult:
        deadline = time.monotonic() + self.timeout
        cancelled = threading.Event()
        headers = {"Accept": "application/json", "x-subset": subset}
        if self.namespace:
            headers["x-namespace"] = self.namespace
        limits = httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency)
        try:
            client = httpx.Client(base_url=self.base_url, headers=headers, limits=limits)
        except (httpx.InvalidURL, ValueError) as exc:
            raise SourceError(f"AGENT_REGISTRY_URL={self.base_url!r} is not a usable URL: {exc}") from None
        with client:
            tenant_path = f"/apis/v1/tenants/{quote(tenant_id, safe='')}"
            channel_ids, warnings = self._channels(client, f"{tenant_path}/channels", deadline, cancelled)
            result = FetchResult(routings=[], warnings=warnings)
            if not channel_ids:
                return result
            pool = ThreadPoolExecutor(max_workers=min(self.concurrency, len(channel_ids)))
            try:
                futures = [
                    pool.submit(
                        self._routing,
                        client,
                        f"{tenant_path}/channels/{quote(cid, safe='')}/routing",
                        cid,
                        tenant_id,
                        subset,
                        deadline,
                        cancelled,
                    )
                    for cid in channel_ids
                ]
                done, _ = wait(futures, return_when=FIRST_EXCEPTION)
                for future in done:
                    error = future.exception()
                    if error is not None and not isinstance(error, _Cancelled):
                        raise error
            finally:
                # A failure stops the other requests at their next step; none outlives the budget.
                cancelled.set()
                pool.shutdown(wait=True, cancel_futures=True)
            for future in futures:
                routing: _Routing = future.result()
                if routing.spec is not None:
                    result.routings.append(routing.spec)
                elif routing.warning:
                    result.warnings.append(routing.warning)
                    result.unreadable.add(routing.channel_id)
            return result

    # --- helpers ----------------------------------------------------------------------

    def _channels(
        self, client: httpx.Client, path: str, deadline: float, cancelled: threading.Event
    ) -> tuple[list[str], list[str]]:
        status, body = self._get(client, path, deadline, cancelled)
        if status != 200:
            raise SourceError(f"GET {self.base_url}{path} answered HTTP {status}: {_snippet(body)}")
        try:
            channels = json.loads(body)
        except ValueError:
            raise SourceError(f"GET {self.base_url}{path} did not answer JSON: {_snippet(body)}") from None
        if not isinstance(channels, list):
            raise SourceError(
                f"GET {self.base_url}{path}: expected a JSON array of channels, got {type(channels).__name__}"
            )
        ids: list[str] = []
        warnings: list[str] = []
        for index, channel in enumerate(channels):
            metadata = channel.get("metadata") if isinstance(channel, dict) else None
            labels = metadata.get("labels") if isinstance(metadata, dict) else None
            channel_id = labels.get("channel") if isinstance(labels, dict) else None
            name = metadata.get("name") if isinstance(metadata, dict) else None
            where = f"channels[{index}]" + (f" ({name})" if name else "")
            if not isinstance(channel_id, str) or not ID_PATTERN_RE.match(channel_id.strip()):
                warnings.append(f"{where}: metadata.labels.channel is missing or not a valid id, skipped")
                continue
            if channel_id.strip() not in ids:
                ids.append(channel_id.strip())
        return ids, warnings

    def _routing(
        self,
        client: httpx.Client,
        path: str,
        channel_id: str,
        tenant_id: str,
        subset: str,
        deadline: float,
        cancelled: threading.Event,
    ) -> _Routing:
        status, body = self._get(client, path, deadline, cancelled)
        where = f"channel {channel_id!r}"
        if status == 404:
            return _Routing(channel_id)  # no routing for this channel
        if status != 200:
            raise SourceError(f"GET {self.base_url}{path} answered HTTP {status}: {_snippet(body)}")
        if not body.strip():
            return _Routing(channel_id, warning=f"{where}: the routing answer was empty; kept what was stored")
        try:
            obj = json.loads(body)
        except ValueError:
            return _Routing(
                channel_id, warning=f"{where}: the routing is not JSON ({_snippet(body)}); kept what was stored"
            )
        try:
            spec = parse_channel_routing(obj, tenant_id=tenant_id, subset=subset, channel_id=channel_id)
        except SpecError as exc:
            return _Routing(channel_id, warning=f"{where}: {exc}; kept what was stored")
        if (spec.tenant_id, spec.channel_id, spec.subset) != (tenant_id, channel_id, subset):
            return _Routing(
                channel_id,
                warning=(
                    f"{where}: the routing is labelled {spec.tenant_id}/{spec.channel_id}/{spec.subset}, "
                    f"expected {tenant_id}/{channel_id}/{subset}; kept what was stored"
                ),
            )
        return _Routing(channel_id, spec=spec)

    def _get(self, client: httpx.Client, path: str, deadline: float, cancelled: threading.Event) -> tuple[int, bytes]:
        """GET with retries on transient failures, all within the fetch's deadline."""
        delay = self.backoff_initial
        last_error = "no attempt"
        while True:
            if cancelled.is_set():
                raise _Cancelled
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise SourceError(
                    f"the operator at {self.base_url} did not answer GET {path} within the "
                    f"{self.timeout:g} s budget (AGENT_REGISTRY_TIMEOUT); last error: {last_error}"
                )
            try:
                with client.stream("GET", path, timeout=httpx.Timeout(remaining)) as response:
                    body = bytearray()
                    for chunk in response.iter_bytes():
                        body += chunk
                        if len(body) > MAX_BODY_BYTES:
                            raise SourceError(f"GET {path}: answer larger than {MAX_BODY_BYTES} bytes")
                        if time.monotonic() > deadline:
                            raise httpx.ReadTimeout("budget exhausted while reading", request=response.request)
                status = response.status_code
            except httpx.UnsupportedProtocol as exc:
                raise SourceError(f"AGENT_REGISTRY_URL={self.base_url!r}: {exc}") from None
            except httpx.TransportError as exc:
                last_error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            else:
                if status < 500 and status != 429:
                    return status, bytes(body)
                last_error = f"HTTP {status}"
            pause = min(delay, deadline - time.monotonic())
            if pause > 0 and cancelled.wait(pause):
                raise _Cancelled
            delay = min(delay * 2, self.backoff_max)


def _snippet(body: bytes, limit: int = 120) -> str:
    text = body.decode("utf-8", errors="replace").strip().replace("\n", " ")
    if not text:
        return "(empty body)"
    return repr(text[:limit] + ("…" if len(text) > limit else ""))
