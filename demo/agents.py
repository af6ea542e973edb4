"""The demo agents started by `make run`: three Arc agents answering from canned knowledge."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

from demo.arc_server import ArcServer, agent_result

DEMO_AGENTS: dict[str, dict[str, Any]] = {
    "billing-agent": {
        "port": 9101,
        "intro": "I'm the billing assistant.",
        "knowledge": [
            (
                {"high", "expensive", "more", "increase", "higher"},
                "Your latest bill is 48.90 EUR, 9.00 EUR more than last month: it includes 3 GB of extra data (9.00 EUR) bought on the 12th. The base fee of 39.90 EUR is unchanged.",
            ),
            (
                {"invoice", "bill", "latest", "show", "rechnung"},
                "Your latest invoice (no. 2026-1187) is 48.90 EUR, issued on the 1st and due on the 15th. You can download it as a PDF in your customer account.",
            ),
            (
                {"pay", "payment", "debit", "due", "method"},
                "You can pay by direct debit, credit card or bank transfer. With direct debit the amount is collected on the 15th; you can switch the method in your customer account.",
            ),
            (
                {"refund", "double", "twice", "back"},
                "I can see a double payment of 48.90 EUR on the 3rd. The refund has been requested and will reach your account within 5 working days.",
            ),
            (
                {"charge", "item", "position"},
                "The charges on your bill are: base fee 39.90 EUR, extra data 9.00 EUR, no roaming or premium numbers.",
            ),
        ],
    },
    "contracts-agent": {
        "port": 9102,
        "intro": "I'm the contracts assistant.",
        "knowledge": [
            (
                {"cancel", "terminate", "quit", "kündigen"},
                "Your contract can be cancelled with one month's notice to the end of the minimum term on 31 March. Shall I prepare the cancellation for you?",
            ),
            (
                {"end", "ends", "duration", "term", "minimum"},
                "Your contract started on 1 April 2025 with a 12-month minimum term; it ends on 31 March 2026 and then runs on month by month.",
            ),
            (
                {"cheaper", "downgrade", "cheap", "smaller"},
                "The cheapest plan for you is 'Mobile S' (10 GB, 19.90 EUR/month). The switch would take effect on the 1st of next month.",
            ),
            (
                {"upgrade", "unlimited", "bigger", "tariff", "plan", "switch", "change"},
                "You are on 'Mobile M' (20 GB, 39.90 EUR). 'Mobile Unlimited' costs 54.90 EUR/month; I can switch you from the 1st of next month.",
            ),
        ],
    },
    "techsupport-agent": {
        "port": 9103,
        "intro": "I'm the technical support assistant.",
        "knowledge": [
            (
                {"restart", "reboot", "router"},
                "To restart your router, unplug it for 30 seconds, plug it back in and wait about 3 minutes until the power and internet lights are steady.",
            ),
            (
                {"wifi", "wlan", "dropping", "drops", "disconnects"},
                "Wi-Fi drops are often caused by interference: move the router away from walls and metal, and switch to the 5 GHz band in the router's settings.",
            ),
            (
                {"internet", "slow", "working", "down", "offline", "connection"},
                "I checked your line: there is no outage in your area. Please restart your router; if it is still down, I will open a ticket for a technician.",
            ),
            (
                {"signal", "coverage", "network", "reception"},
                "There is planned maintenance on a mast near you until 6 pm today; coverage should be back to normal afterwards.",
            ),
            (
                {"sim", "activate", "esim"},
                "Your new SIM card is activated automatically within 2 hours of insertion. If not, restart your phone and check that the SIM PIN is entered.",
            ),
        ],
    },
}

_WORD = re.compile(r"[a-zäöüß]+")


def demo_answer(agent: str, query: str) -> str:
    """The canned answer whose keywords best overlap the query."""
    spec = DEMO_AGENTS[agent]
    words = set(_WORD.findall(query.lower()))
    best, best_score = None, 0
    for keywords, answer in spec["knowledge"]:
        score = len(words & keywords)
        if score > best_score:
            best, best_score = answer, score
    if best is None:
        topics = "; ".join(answer.split(".")[0] for _, answer in spec["knowledge"][:2])
        return f"{spec['intro']} I'm not sure I understood. For example: {topics}."
    return best


def demo_behaviour(agent: str):
    async def behaviour(request: dict[str, Any], headers: dict[str, str]) -> AsyncIterator[dict[str, Any]]:
        messages = (request.get("request") or {}).get("messages") or []
        query = next((m.get("content", "") for m in reversed(messages) if m.get("role") == "user"), "")
        yield agent_result(demo_answer(agent, query))

    return behaviour


async def start_demo_agents(host: str = "127.0.0.1", base_port: int | None = None) -> list[ArcServer]:
    servers = []
    for offset, (name, spec) in enumerate(DEMO_AGENTS.items()):
        # base_port 0 lets the OS pick each port: tests cannot race other processes for a fixed range.
        port = spec["port"] if base_port is None else (base_port + offset if base_port else 0)
        servers.append(await ArcServer(demo_behaviour(name), host=host, port=port).start())
    return servers
