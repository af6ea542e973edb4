"""route_eval on a tiny CSV and a tiny suite with known results (no database), the metric
functions on hand-made inputs, the suite loader, and the admin's test page."""

from __future__ import annotations

import json
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command

from benchmarks.suites import DATA, load_suite, load_suites, read_german, read_parallel, split_repeats
from routing.evaluation import (
    Outcome,
    Row,
    abstention_precision,
    abstention_recall,
    accuracy,
    auroc,
    coverage_accuracy,
    deferral,
    in_scope_accuracy,
    macro_f1,
    metrics,
    report,
    shown,
)

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
    assert report["in_scope_accuracy"] == 0.75
    assert report["no_agent_rows"] == 1 and report["coverage"] == 0.8
    assert {"auroc", "coverage_accuracy"} <= set(report)
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
    assert report["in_scope_accuracy"] is None
    assert report["accuracy"] == 0.6667
    assert report["per_agent"] == {"a": 1.0, "b": 0.5}


def test_macro_f1_averages_the_agents_f1_and_leaves_no_agent_out():
    # a: tp 2, fp 0, fn 1 -> 0.8; b: tp 1, fp 1, fn 0 -> 0.6667; "" is not a class.
    outcomes = [Outcome("a", "a"), Outcome("a", "a"), Outcome("a", "b"), Outcome("b", "b"), Outcome("", "")]
    assert macro_f1(outcomes) == pytest.approx((0.8 + 2 / 3) / 2)
    assert accuracy(outcomes) == 0.8
    assert macro_f1([Outcome("", "")]) is None


def test_abstention_and_in_scope_figures():
    outcomes = [Outcome("a", "a"), Outcome("a", ""), Outcome("", ""), Outcome("", "b"), Outcome("", "")]
    assert in_scope_accuracy(outcomes) == 0.5
    assert abstention_precision(outcomes) == pytest.approx(2 / 3)
    assert abstention_recall(outcomes) == pytest.approx(2 / 3)
    # No abstention at all: precision 0, not undefined.
    assert abstention_precision([Outcome("", "a"), Outcome("a", "a")]) == 0.0


def test_auroc_counts_pairs_ordered_by_relevance_ties_half():
    routed = [Outcome("a", "a", relevance=r) for r in (0.9, 0.8, 0.4)]
    no_agent = [Outcome("", "", relevance=r) for r in (0.5, 0.1)]
    # (0.9, 0.8 above both) + (0.4 above 0.1 only) = 5 of 6 pairs.
    assert auroc(routed + no_agent) == pytest.approx(5 / 6)
    assert auroc([Outcome("a", "a", relevance=0.5), Outcome("", "", relevance=0.5)]) == 0.5
    assert auroc([Outcome("a", "a", relevance=0.1), Outcome("", "", relevance=0.9)]) == 0.0
    assert auroc(routed) is None  # no no-agent rows
    assert auroc([*routed, Outcome("", "")]) is None  # a decision without relevance


def test_coverage_accuracy_keeps_the_most_confident_rows():
    outcomes = [
        Outcome("a", "a", relevance=0.1, confidence=0.9),
        Outcome("a", "b", relevance=0.9, confidence=0.2),  # least confident: dropped
        Outcome("b", "b", relevance=0.2, confidence=0.8),
        Outcome("b", "a", relevance=0.3, confidence=0.7),
        Outcome("", "", relevance=0.8, confidence=0.6),
    ]
    assert coverage_accuracy(outcomes) == 0.75  # 4 of 5 rows kept, 3 right
    assert coverage_accuracy(outcomes, coverage=0.4) == 1.0
    # Without confidence, relevance orders the rows: the 0.1 row is dropped.
    by_relevance = [o._replace(confidence=None) for o in outcomes]
    assert coverage_accuracy(by_relevance) == 0.5
    assert coverage_accuracy([Outcome("a", "a"), Outcome("a", "b")]) is None


def test_deferral_splits_at_the_confidence_threshold():
    outcomes = [
        Outcome("a", "a", confidence=0.95),
        Outcome("a", "b", confidence=0.9),
        Outcome("b", "b", confidence=0.5),
        Outcome("b", "a", confidence=0.4),
    ]
    share, kept = deferral(outcomes, below=0.8)
    assert share == 0.5 and kept == 0.5
    assert deferral(outcomes, below=0.0) == (0.0, 0.5)
    assert deferral(outcomes, below=1.0) == (1.0, None)
    assert deferral([Outcome("a", "a")], below=0.5) == (None, None)


def test_metrics_without_scores_say_n_a_not_crash():
    result = report([Outcome("a", "a"), Outcome("", "")], [1.0, 2.0])
    assert result["auroc"] is None and result["coverage_accuracy"] is None
    assert shown(result["auroc"]) == "n/a" and shown(result["accuracy"]) == "1.000"


SUITE_REGISTRY = yaml.safe_dump(
    {
        "channelRoutings": [
            {**REGISTRY["channelRoutings"][0], "metadata": {"labels": {"tenant": "clinc", "channel": "web"}}}
        ]
    }
)


def _tiny_clinc(root: Path) -> Path:
    """A made-up suite in CLINC150's layout: two registries, dev.csv (fitting) and test.csv."""
    base = root / "clinc150"
    base.mkdir(parents=True)
    (base / "registry-desc.yaml").write_text(SUITE_REGISTRY)
    (base / "registry-5ex.yaml").write_text(SUITE_REGISTRY)
    (base / "dev.csv").write_text("text,agent,intent\nI forgot my password,account-agent,x\nmy bill,billing-agent,y\n")
    (base / "test.csv").write_text(
        "text,agent,intent\n"
        "my invoice is wrong,billing-agent,y\n"
        "  i FORGOT my password ,account-agent,x\n"  # repeats a dev.csv row
        "what's the weather in Berlin tomorrow,,\n"
    )
    return root


def test_loader_skips_an_absent_suite_with_a_message(tmp_path):
    messages = []
    assert load_suites(["clinc150", "german"], tmp_path, say=messages.append) == []
    assert len(messages) == 2
    assert "clinc150" in messages[0] and str(tmp_path / "clinc150") in messages[0]
    assert "LMOS_BENCHMARKS_DIR" in messages[0]
    assert "german" in messages[1] and "lmos-router" in messages[1]


def test_loader_reads_a_suite_and_keeps_test_rows_repeating_a_fitting_row_apart(tmp_path, monkeypatch):
    monkeypatch.setenv("LMOS_BENCHMARKS_DIR", str(_tiny_clinc(tmp_path)))
    suite = load_suite("clinc150")
    assert [r.text for r in suite.fit] == ["I forgot my password", "my bill"]
    assert [r.text for r in suite.test] == ["my invoice is wrong", "what's the weather in Berlin tomorrow"]
    assert suite.repeats == [Row("i FORGOT my password", "account-agent")]
    assert set(suite.registry_files) == {"descriptions", "5-examples"}
    assert {a.name for a in suite.registry("descriptions").agents} == {"billing-agent", "account-agent"}


def test_split_repeats_is_case_insensitive_and_trimmed():
    fresh, repeats = split_repeats([Row("Hello There", "a")], [Row(" hello there  ", "a"), Row("hello", "a")])
    assert repeats == [Row(" hello there  ", "a")] and fresh == [Row("hello", "a")]


def test_route_eval_runs_a_tiny_suite_with_repeats_reported_apart(tmp_path):
    out = StringIO()
    call_command("route_eval", "--suite", "clinc150", "--suites", str(_tiny_clinc(tmp_path)), "--json", stdout=out)
    result = json.loads(out.getvalue())
    assert result["suite"] == "clinc150" and set(result["variants"]) == {"descriptions", "5-examples"}
    for variant in result["variants"].values():
        assert variant["test"]["rows"] == 2 and variant["repeats"]["rows"] == 1
        assert variant["test"]["accuracy"] == 1.0  # the invoice to billing, the weather to nobody
        assert variant["test"]["abstention_recall"] == 1.0
        assert variant["repeats"]["accuracy"] == 1.0
    text = StringIO()
    call_command(
        "route_eval", "--suite", "clinc150", "--suites", str(tmp_path), "--variant", "descriptions", stdout=text
    )
    assert "clinc150 descriptions, test split" in text.getvalue()
    assert "test rows repeating a fitting row" in text.getvalue()


def test_route_eval_absent_suite_is_a_clear_error(tmp_path):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="banking77"):
        call_command("route_eval", "--suite", "banking77", "--suites", str(tmp_path))


def test_german_sets_load_from_csv_with_their_english_originals():
    fit_de, fit_en = read_german(DATA / "german-fit.csv"), read_german(DATA / "german-fit.csv", english=True)
    assert len(fit_de) == len(fit_en) == 352
    assert [r.agent for r in fit_de] == [r.agent for r in fit_en]
    test_de = read_german(DATA / "german-test.csv")
    assert len(read_german(DATA / "german-test.csv", sets=["test"])) == 220
    assert len(read_german(DATA / "german-test.csv", sets=["parallel"])) == 66
    off_topic = read_german(DATA / "german-test.csv", sets=["off-topic"])
    assert len(off_topic) == 20 and all(r.agent == "" for r in off_topic)
    assert len(read_german(DATA / "german-test.csv", sets=["off-topic"], english=True)) == 16
    assert all(r.text for r in test_de)
    pairs = read_parallel(DATA / "german-test.csv")
    assert len(pairs) == 220 + 66 + 16
    assert all(de.agent == en.agent and de.text != en.text for de, en in pairs)


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
