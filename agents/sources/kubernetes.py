"""The `kubernetes` source: ChannelRouting custom objects read from the cluster.

ChannelRoutings (`lmos.eclipse/v1`, plural `channelroutings`) are listed in
`LMOS_NAMESPACE` (default `default`) with the label selector `tenant=T,subset=S`. Agent
objects (plural `agents`) supply capability examples when a routing has none: an Agent's
`spec.providedCapabilities[].examples` are matched by agent name and capability name.
Configuration is in-cluster when running in a pod, else the kubeconfig (`KUBECONFIG`).
Transient failures are retried within `AGENT_REGISTRY_TIMEOUT` seconds per fetch.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable
from typing import Any

import urllib3
from django.conf import settings
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from agents.sources import FetchResult, SourceError, routing_labels
from agents.specs import ChannelRoutingSpec, SpecError, parse_channel_routing

GROUP = "lmos.eclipse"
VERSION = "v1"


class KubernetesSource:
    name = "kubernetes"
    backoff_initial = 0.1
    backoff_max = 1.0

    def __init__(
        self, *, kubeconfig: str | None = None, namespace: str | None = None, timeout: float | None = None
    ) -> None:
        self.kubeconfig = kubeconfig
        self.namespace = namespace or settings.LMOS_NAMESPACE or "default"
        self.timeout = float(timeout if timeout is not None else settings.AGENT_REGISTRY_TIMEOUT)

    def fetch(self, *, tenant_id: str, subset: str) -> FetchResult:
        deadline = time.monotonic() + self.timeout
        with self._api_client() as api_client:
            api = k8s.CustomObjectsApi(api_client)
            items = self._list(api, "channelroutings", deadline, label_selector=f"tenant={tenant_id},subset={subset}")
            result = FetchResult(routings=[])
            for index, item in enumerate(items):
                name = (item.get("metadata") or {}).get("name") if isinstance(item, dict) else None
                where = f"channelroutings[{index}]" + (f" ({name})" if name else "")
                try:
                    spec = parse_channel_routing(item, tenant_id=tenant_id, subset=subset)
                except SpecError as exc:
                    result.warnings.append(f"{where}: {exc}")
                    _, channel, _ = routing_labels(item)
                    if channel:
                        result.unreadable.add(channel)
                    continue
                if spec.tenant_id != tenant_id or spec.subset != subset:
                    result.warnings.append(f"{where}: labelled {spec.tenant_id}/{spec.subset}, skipped")
                    continue
                result.routings.append(spec)
            if any(not cap.examples for r in result.routings for a in r.agents for cap in a.capabilities):
                try:
                    agents = self._list(api, "agents", deadline)
                except SourceError as exc:
                    result.warnings.append(f"Agent objects not read, capability examples missing: {exc}")
                else:
                    result.routings = [_with_examples(r, _examples_by_agent(agents)) for r in result.routings]
        result.routings.sort(key=lambda r: r.channel_id)
        return result

    def tenants(self) -> list[tuple[str, str]]:
        """(tenant, subset) pairs of the ChannelRoutings in the namespace."""
        deadline = time.monotonic() + self.timeout
        with self._api_client() as api_client:
            items = self._list(k8s.CustomObjectsApi(api_client), "channelroutings", deadline)
        pairs = set()
        for item in items:
            tenant, _, subset = routing_labels(item)
            if tenant:
                pairs.add((tenant, subset or "stable"))
        return sorted(pairs)

    # --- helpers ----------------------------------------------------------------------

    def _api_client(self) -> k8s.ApiClient:
        configuration = k8s.Configuration()
        try:
            if not self.kubeconfig and os.environ.get("KUBERNETES_SERVICE_HOST"):
                k8s_config.load_incluster_config(client_configuration=configuration)
            else:
                # KUBECONFIG is read now, not when the kubernetes package was imported.
                k8s_config.load_kube_config(
                    config_file=self.kubeconfig or os.environ.get("KUBECONFIG") or None,
                    client_configuration=configuration,
                    persist_config=False,
                )
        except (ConfigException, OSError, TypeError, ValueError) as exc:
            raise SourceError(f"no usable Kubernetes configuration (in-cluster or KUBECONFIG): {exc}") from None
        configuration.retries = False  # we retry ourselves, within the budget
        return k8s.ApiClient(configuration)

    def _list(self, api: k8s.CustomObjectsApi, plural: str, deadline: float, **kwargs: Any) -> list[Any]:
        def call(remaining: float) -> Any:
            return api.list_namespaced_custom_object(
                GROUP, VERSION, self.namespace, plural, _request_timeout=(remaining, remaining), **kwargs
            )

        what = f"{plural}.{GROUP}/{VERSION} in namespace {self.namespace!r}"
        answer = self._with_retries(call, deadline, what)
        items = answer.get("items") if isinstance(answer, dict) else None
        if not isinstance(items, list):
            raise SourceError(f"listing {what}: the API server's answer is not a list of items")
        return items

    def _with_retries(self, call: Callable[[float], Any], deadline: float, what: str) -> Any:
        delay = self.backoff_initial
        last_error = "no attempt"
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise SourceError(
                    f"listing {what} did not succeed within the {self.timeout:g} s budget "
                    f"(AGENT_REGISTRY_TIMEOUT); last error: {last_error}"
                )
            try:
                return call(remaining)
            except ApiException as exc:
                if exc.status and exc.status < 500 and exc.status != 429:
                    raise SourceError(f"listing {what}: HTTP {exc.status} {exc.reason}") from None
                last_error = f"HTTP {exc.status} {exc.reason}"
            except urllib3.exceptions.HTTPError as exc:
                last_error = f"{type(exc).__name__}: {exc}"
            pause = min(delay, deadline - time.monotonic())
            if pause > 0:
                time.sleep(pause)
            delay = min(delay * 2, self.backoff_max)


def _examples_by_agent(agents: list[Any]) -> dict[str, dict[str, tuple[str, ...]]]:
    found: dict[str, dict[str, tuple[str, ...]]] = {}
    for agent in agents:
        if not isinstance(agent, dict):
            continue
        name = (agent.get("metadata") or {}).get("name")
        spec = agent.get("spec") or {}
        capabilities = spec.get("providedCapabilities") if isinstance(spec, dict) else None
        if not isinstance(name, str) or not isinstance(capabilities, list):
            continue
        for capability in capabilities:
            if not isinstance(capability, dict) or not isinstance(capability.get("name"), str):
                continue
            examples = capability.get("examples")
            if isinstance(examples, list):
                cleaned = tuple(str(e).strip() for e in examples if isinstance(e, str | int | float) and str(e).strip())
                if cleaned:
                    found.setdefault(name, {})[capability["name"]] = cleaned
    return found


def _with_examples(routing: ChannelRoutingSpec, examples: dict[str, dict[str, tuple[str, ...]]]) -> ChannelRoutingSpec:
    agents = []
    for agent in routing.agents:
        known = examples.get(agent.name, {})
        capabilities = tuple(
            cap if cap.examples or cap.name not in known else dataclasses.replace(cap, examples=known[cap.name])
            for cap in agent.capabilities
        )
        agents.append(dataclasses.replace(agent, capabilities=capabilities))
    return dataclasses.replace(routing, agents=tuple(agents))
