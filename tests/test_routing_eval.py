"""route_eval on a tiny CSV with known results (no database), and the admin's test page."""

from __future__ import annotations

import json
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command

from routing.evaluation import metrics

REGISTRY = {
    "channelRoutings": [
        {
            "metadata": {"name": "acme-web", "labels": {"tenant": "acme", "channel": "web", "subset": "stable"}},
            "spec": {
                "capabilityGroups": [
                    {
                        "name": "billing-agent",
                        "description": "Answers questions about bills and invoices",
                        "capabilities": [
                            {
                                "name": "view-bill",
                                "description": "Shows the customer's bill",
                                "host": "billing:8080",
                                "examples": ["why is my bill so high"],
                            }
                        ],
                    },
                    {
                        "name": "account-agent",
                        "description": "Manages customer accounts and logins",
                        "capabilities": [
                            {
                                "name": "recover-password",
                                "description": "Helps a customer who forgot the password",
                                "host": "account:8080",
                                "examples": ["I forgot my password"],
                            }
                        ],
                    },
                ]
            },
        }
    ]
}

CSV = """text,agent,note
my invoice is wrong,billing-agent,x
I cannot remember my password,account-agent,x
Ich habe mein Passwort vergessen,account-agent,x
what's the weather in Berlin tomorrow,,off-topic
my bill is too high,account-agent,deliberately mislabelled
"""


TENANT_CHANNEL = ("--tenant", "acme", "--channel", "web")


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    registry = tmp_path / "registry.yaml"
    registry.write_text(yaml.safe_dump(REGISTRY))
    data = tmp_path / "data.csv"
    data.write_text(CSV)
    return data, registry


def test_route_eval_json_reports_known_results_without_touching_the_database(files):
    data, registry = files
    out = StringIO()
    call_command(
        "route_eval",
        str(data),
        "--registry",
        str(registry),
        "--tenant",
        "acme",
        "--channel",
        "web",
        "--json",
        stdout=out,
    )
    report = json.loads(out.getvalue())
    assert report["rows"] == 5
    assert report["accuracy"] == 0.8  # 4 right; the mislabelled row goes to billing-agent
    assert report["abstention_precision"] == 1.0 and report["abstention_recall"] == 1.0
    assert report["per_agent"] == {"account-agent": 0.6667, "billing-agent": 1.0}
    assert report["confusions"] == [{"expected": "account-agent", "predicted": "billing-agent", "count": 1}]
    assert 0 < report["macro_f1"] < 1
    assert report["p50_ms"] > 0 and report["p95_ms"] >= report["p50_ms"]


def test_route_eval_as_a_process_prints_one_json_object_and_exits_0(files, tmp_path):
    data, registry = files
    env = {"DJANGO_SETTINGS_MODULE": "lmos_runtime.settings", "SECRET_KEY": "x" * 50, "PATH": "/usr/bin:/bin"}
    # A database URL nobody answers: the command must not need one.
    env["DATABASE_URL"] = "postgres://nobody@127.0.0.1:1/none"
    result = subprocess.run(
        [sys.executable, "manage.py", "route_eval", str(data), "--registry", str(registry), *TENANT_CHANNEL, "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report) >= {
        "rows",
        "accuracy",
        "macro_f1",
        "abstention_precision",
        "abstention_recall",
        "p50_ms",
        "p95_ms",
        "per_agent",
        "confusions",
    }
    assert report["accuracy"] == 0.8


def test_route_eval_unknown_channel_is_a_clear_error(files):
    from django.core.management.base import CommandError

    data, registry = files
    with pytest.raises(CommandError, match="no ChannelRouting"):
        call_command("route_eval", str(data), "--registry", str(registry), "--tenant", "acme", "--channel", "app")


def test_metrics_without_empty_labels_have_null_abstention_figures():
    report = metrics(["a", "b", "b"], ["a", "b", ""], [1.0, 2.0, 3.0])
    assert report["abstention_precision"] is None and report["abstention_recall"] is None
    assert report["accuracy"] == 0.6667
    assert report["per_agent"] == {"a": 1.0, "b": 0.5}


@pytest.mark.django_db
def test_admin_test_routing_page_shows_scores_and_writes_nothing(admin_client):
    from agents.models import Agent, Capability, Channel, Tenant
    from routing.models import RoutingDecision

    tenant = Tenant.objects.create(tenant_id="acme")
    channel = Channel.objects.create(tenant=tenant, channel_id="web", subset="stable")
    for name, description, example in [
        ("billing-agent", "Answers questions about bills and invoices", "why is my bill so high"),
        ("account-agent", "Manages customer accounts and logins", "I forgot my password"),
    ]:
        agent = Agent.objects.create(tenant=tenant, channel=channel, name=name, description=description, address="h:1")
        Capability.objects.create(agent=agent, name="cap", description=description, host="h:1", examples=[example])
    tenant.bump_registry_version()

    changelist = admin_client.get("/admin/routing/routingdecision/")
    assert b"/admin/routing/routingdecision/test-routing/" in changelist.content
    page = admin_client.get("/admin/routing/routingdecision/test-routing/")
    assert page.status_code == 200
    response = admin_client.post(
        "/admin/routing/routingdecision/test-routing/",
        {"channel": channel.pk, "query": "I lost my password", "router": "vector"},
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "account-agent" in body and "billing-agent" in body
    assert "<table>" in body
    assert RoutingDecision.objects.count() == 0
