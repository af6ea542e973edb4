"""The admin in a real browser: Playwright driving Debian's Chromium against a live server.

`make browser` (run by .ci/run) installs Chromium with apt; where it is missing the test is
skipped with that hint. Playwright's own browser download is not used. Screenshots of
every page go to var/browser/ (kept by CI as artefacts)."""

from __future__ import annotations

import os
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from conversations.models import Conversation, Turn
from routing.models import RoutingDecision
from tests.factories import make_registry

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parent.parent / "var" / "browser"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

playwright_sync = pytest.importorskip(
    "playwright.sync_api", reason="Playwright is not installed (requirements-dev.txt)"
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (os.access(CHROMIUM, os.X_OK) or shutil.which("chromium")),
        reason=f"no Chromium at {CHROMIUM}: run `make browser` (apt-get install -y chromium) or set CHROMIUM",
    ),
]


@pytest.fixture
def admin_data(transactional_db, django_user_model):
    django_user_model.objects.create_superuser("admin", "admin@example.com", "browser-pass-1")
    tenant, channel = make_registry(
        agents={"billing-agent": "127.0.0.1:1", "contract-agent": "127.0.0.1:2"},
    )
    channel.agents.filter(name="billing-agent").update(description="Answers questions about bills and payments")
    channel.agents.filter(name="contract-agent").update(description="Changes or cancels the customer's contract")
    tenant.bump_registry_version()
    conversation = Conversation.objects.create(tenant=tenant, conversation_id="conv-browser", channel_id="web")
    decisions = []
    for number, (query, agent, score) in enumerate(
        [("why is my bill so high", "billing-agent", 0.82), ("cancel my contract", "contract-agent", 0.77)]
    ):
        turn = Turn.objects.create(
            tenant=tenant,
            conversation=conversation,
            turn_id=f"turn-{number}",
            request_hash=str(number),
            channel_id="web",
            status="completed",
            agent_name=agent,
            routing_strategy="vector",
            messages=[{"role": "user", "content": query}],
            answer={"content": f"answer {number}", "anonymizationEntities": None},
            latency_ms=120.0 + number * 80,
        )
        decisions.append(
            RoutingDecision.objects.create(
                tenant=tenant,
                turn=turn,
                conversation_id=conversation.conversation_id,
                channel_id="web",
                strategy="vector",
                chosen_agent=agent,
                candidates=[{"agent": agent, "score": score}, {"agent": "other-agent", "score": 0.31}],
                reason="clear lead",
                latency_ms=3.5 + number,
                confidence=score,
            )
        )
    RoutingDecision.objects.create(
        tenant=tenant,
        channel_id="web",
        strategy="vector",
        chosen_agent="",
        reason="off topic",
        latency_ms=2.0,
        confidence=0.05,
    )
    RoutingDecision.objects.filter(pk=decisions[0].pk).update(created_at=timezone.now() - timedelta(minutes=20))
    return {"channel": channel, "conversation": conversation, "decision": decisions[0]}


def test_admin_pages_in_a_real_browser(live_server, admin_data):
    from django.urls import reverse

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    base = live_server.url
    with playwright_sync.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(30_000)

            page.goto(base + reverse("admin:login"))
            page.fill("#id_username", "admin")
            page.fill("#id_password", "browser-pass-1")
            page.click("input[type=submit]")
            page.wait_for_selector("#user-tools")
            page.screenshot(path=SCREENSHOTS / "01-admin-index.png", full_page=True)

            conversation = admin_data["conversation"]
            page.goto(base + reverse("admin:conversations_conversation_change", args=[conversation.pk]))
            turns = page.locator("#turns-group, .inline-group").first
            assert "turn-0" in turns.inner_text() and "turn-1" in turns.inner_text()
            page.screenshot(path=SCREENSHOTS / "02-conversation.png", full_page=True)

            page.goto(base + reverse("admin:routing_routingdecision_change", args=[admin_data["decision"].pk]))
            table = page.locator("table:has(th:text-is('score'))")
            assert table.count() == 1
            rows = table.locator("tr").all_inner_texts()
            assert any("billing-agent" in row and "0.820" in row for row in rows), rows
            page.screenshot(path=SCREENSHOTS / "03-decision.png", full_page=True)

            page.goto(base + reverse("admin:routing_test_routing"))
            page.select_option("#id_channel", str(admin_data["channel"].pk))
            page.fill("#id_query", "why is my bill so high this month")
            page.click("input[type=submit][value=Route]")
            decision = page.wait_for_selector("#decision")
            assert "billing-agent" in decision.inner_text()
            page.screenshot(path=SCREENSHOTS / "04-test-routing.png", full_page=True)

            page.goto(base + reverse("admin:routing_routingdecision_changelist"))
            page.click("text=Routing overview")
            page.wait_for_selector("#overview-stats")
            page.click("text=hour")
            page.wait_for_url("**window=hour**")
            charts = page.locator("svg.chart")
            assert charts.count() == 6
            drawn = page.evaluate(
                """() => [...document.querySelectorAll('svg.chart')].map(svg => {
                    const box = svg.getBoundingClientRect();
                    const marks = [...svg.querySelectorAll('rect')]
                        .filter(r => r.getBBox().width * r.getBBox().height > 0);
                    return {width: box.width, height: box.height, marks: marks.length};
                })"""
            )
            assert all(chart["width"] > 100 and chart["height"] > 20 for chart in drawn), drawn
            per_agent, timeline, confidence, routing_latency, turn_latency, _errors = drawn
            assert per_agent["marks"] == 3, "billing, contract and no agent in the last hour"
            assert timeline["marks"] >= 2 and confidence["marks"] >= 2
            assert routing_latency["marks"] == 2 and turn_latency["marks"] == 2, "p50 and p95"
            assert "33 %" in page.inner_text("#overview-stats"), "one of three decisions found no agent"
            page.screenshot(path=SCREENSHOTS / "05-routing-overview.png", full_page=True)
        finally:
            browser.close()
    for name in ("01-admin-index", "02-conversation", "03-decision", "04-test-routing", "05-routing-overview"):
        assert (SCREENSHOTS / f"{name}.png").stat().st_size > 1000
