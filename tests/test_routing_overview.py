"""The admin's routing overview: its figures against the same figures computed here from the
rows we wrote, its queries (aggregates only), its page and the links to it."""

from __future__ import annotations

import statistics
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from conversations.models import Conversation, Turn
from routing.models import RoutingDecision
from routing.overview import build_overview, percentiles
from tests.factories import make_registry

pytestmark = pytest.mark.django_db


def decision(tenant, channel_id, *, agent, strategy="vector", score=None, latency=1.0, age=timedelta(minutes=5)):
    candidates = [{"agent": agent or "billing-agent", "score": score}] if score is not None else []
    row = RoutingDecision.objects.create(
        tenant=tenant,
        channel_id=channel_id,
        strategy=strategy,
        chosen_agent=agent,
        candidates=candidates,
        latency_ms=latency,
        confidence=score,
    )
    RoutingDecision.objects.filter(pk=row.pk).update(created_at=timezone.now() - age)
    return row


def turn(tenant, channel_id, number, *, agent, latency, error_code="", age=timedelta(minutes=5)):
    conversation, _ = Conversation.objects.get_or_create(tenant=tenant, conversation_id="c1", channel_id=channel_id)
    row = Turn.objects.create(
        tenant=tenant,
        conversation=conversation,
        turn_id=f"t{number}",
        request_hash="x",
        channel_id=channel_id,
        status="failed" if error_code else "completed",
        agent_name=agent,
        error_code=error_code,
        latency_ms=latency,
    )
    Turn.objects.filter(pk=row.pk).update(created_at=timezone.now() - age)
    return row


@pytest.fixture
def traffic():
    tenant, web = make_registry(agents={"billing-agent": "b:1", "contract-agent": "c:1"})
    _, app = make_registry(channel_id="app", agents={"billing-agent": "b:1"})
    latencies = [0.5, 1.5, 2.0, 3.0, 8.0, 13.0, 40.0]
    agents = ["billing-agent", "billing-agent", "contract-agent", "", "billing-agent", "contract-agent", ""]
    strategies = ["vector", "follow-up", "vector", "vector", "fallback", "vector", "clarification"]
    scores = [0.95, 0.62, 0.41, 0.08, None, 0.99, 0.3]
    for agent, strategy, score, latency in zip(agents, strategies, scores, latencies, strict=True):
        decision(tenant, "web", agent=agent, strategy=strategy, score=score, latency=latency)
    decision(tenant, "app", agent="billing-agent", score=0.7, latency=100.0)
    decision(tenant, "web", agent="contract-agent", score=0.5, latency=500.0, age=timedelta(hours=3))
    decision(tenant, "web", agent="contract-agent", score=0.5, latency=900.0, age=timedelta(days=8))
    turn_latencies = [120.0, 340.0, 95.0, 2000.0, 410.0]
    for number, latency in enumerate(turn_latencies):
        error = "AGENT_TIMEOUT" if number == 3 else ("AGENT_CLIENT_EXCEPTION" if number == 4 else "")
        turn(tenant, "web", number, agent="contract-agent" if number == 4 else "billing-agent", latency=latency,
             error_code=error)  # fmt: skip
    turn(tenant, "web", 9, agent="billing-agent", latency=50.0, error_code="AGENT_NOT_FOUND")
    return {"web": web, "app": app, "latencies": latencies, "turn_latencies": [*turn_latencies, 50.0]}


def inclusive(values, fraction):
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return cuts[round(fraction * 100) - 1]


def test_one_channel_over_the_last_hour(traffic):
    view = build_overview(window="hour", channel=traffic["web"])
    assert view.decisions == 7
    assert view.no_agent == 2 and view.no_agent_rate == pytest.approx(2 / 7)
    assert (view.fallback, view.clarification, view.follow_ups) == (1, 1, 1)
    assert view.per_agent == [("billing-agent", 3), ("(no agent)", 2), ("contract-agent", 2)]
    assert view.routing_ms == pytest.approx(
        [inclusive(traffic["latencies"], 0.5), inclusive(traffic["latencies"], 0.95)]
    )
    assert view.turn_ms == pytest.approx(
        [inclusive(traffic["turn_latencies"], 0.5), inclusive(traffic["turn_latencies"], 0.95)]
    )
    assert view.turns == 6
    assert view.errors_per_agent == [("billing-agent", 1), ("contract-agent", 1)] and view.agent_errors == 2
    bins = dict(view.confidence_bins)
    assert sum(bins.values()) == 6, "the decision without a confidence is not counted"
    assert (bins["0.0"], bins["0.3"], bins["0.4"], bins["0.6"], bins["0.9"]) == (1, 1, 1, 1, 2)
    assert sum(total for _, total, _ in view.timeline) == 7
    assert sum(none for _, _, none in view.timeline) == 2


def test_all_channels_and_longer_windows_take_more_rows(traffic):
    assert build_overview(window="hour").decisions == 8
    assert build_overview(window="day").decisions == 9
    week = build_overview(window="week", channel=traffic["web"])
    assert week.decisions == 8, "the decision of eight days ago is outside the week"
    assert week.per_agent[:2] == [("billing-agent", 3), ("contract-agent", 3)], "ties in name order"


def test_an_empty_window_has_no_figures():
    _, channel = make_registry(channel_id="quiet")
    view = build_overview(window="hour", channel=channel)
    assert view.decisions == 0 and view.no_agent_rate is None
    assert view.routing_ms == [None, None] and view.turn_ms == [None, None]
    assert view.per_agent == [] and view.timeline == []


def test_percentiles_interpolate_like_percentile_cont(traffic):
    rows = RoutingDecision.objects.filter(channel_id="web", created_at__gte=timezone.now() - timedelta(hours=1))
    assert percentiles(rows, "latency_ms", (0.0, 0.25, 1.0)) == pytest.approx([0.5, 1.75, 40.0])
    assert percentiles(rows.filter(latency_ms=3.0), "latency_ms", (0.5, 0.95)) == [3.0, 3.0]


def test_the_overview_runs_a_fixed_number_of_aggregate_queries_whatever_the_traffic(traffic):
    def queries() -> list[str]:
        with CaptureQueriesContext(connection) as captured:
            build_overview(window="day", channel=traffic["web"])
        return [q["sql"] for q in captured.captured_queries]

    before = queries()
    tenant = traffic["web"].tenant
    for number in range(40):
        decision(tenant, "web", agent="billing-agent", score=0.5, latency=float(number))
    after = queries()
    assert len(after) == len(before)
    for sql in after:
        upper = sql.upper()
        assert "COUNT(" in upper or "PERCENTILE_CONT" in upper or "LIMIT" in upper, sql


def test_overview_page_draws_its_charts_for_a_channel_and_for_all(admin_client, traffic):
    from django.urls import reverse

    url = reverse("admin:routing_overview")
    page = admin_client.get(url, {"window": "hour", "channel": traffic["web"].pk})
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count('<svg class="chart"') == 6
    assert "billing-agent" in html
    assert f"Routing overview: {traffic['web']}" in html
    assert "29 %" in html, "2 of 7 decisions found no agent"
    everything = admin_client.get(url, {"window": "nonsense"})
    assert everything.status_code == 200 and "all channels" in everything.content.decode()
    assert everything.context["overview"].window == "day"


def test_the_overview_needs_an_admin_login(client):
    from django.urls import reverse

    response = client.get(reverse("admin:routing_overview"))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_decision_list_and_channel_page_link_to_the_overview(admin_client, traffic):
    from django.urls import reverse

    overview = reverse("admin:routing_overview")
    decisions = admin_client.get(reverse("admin:routing_routingdecision_changelist")).content.decode()
    assert f'href="{overview}"' in decisions
    channel = traffic["web"]
    page = admin_client.get(reverse("admin:agents_channel_change", args=[channel.pk])).content.decode()
    assert f'href="{overview}?channel={channel.pk}"' in page


def test_charts_escape_their_labels_and_say_when_there_is_nothing_to_draw():
    from routing import charts

    svg = charts.bar_chart([("<script>alert(1)</script>", 3.0), ("b&c", 1.0)], title="t")
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "b&amp;c" in svg
    assert svg.count("<rect") == 2
    assert "no data" in charts.column_chart(["a"], [("s", [0.0])], title="empty")
