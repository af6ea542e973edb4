"""Examples learned from traffic: which decisions teach, what is stored, and that the vector
router uses them (real embedding models, real database)."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest

from agents.models import Channel, Tenant
from agents.selectors import channel_registry
from conversations.models import Conversation, Turn
from core.errors import AgentNotFound
from routing.learning import Observation, forget, learn_channel, select_examples
from routing.models import RoutingDecision
from routing.services import route_query
from tests.factories import make_registry
from tests.test_routing_vector import request_for, small_registry


def obs(text: str, agent: str, best: float, second: float, top: str | None = None) -> Observation:
    other = "other-agent" if agent != "other-agent" else "third-agent"
    return Observation(
        text=text, agent=agent, candidates=[{"agent": top or agent, "score": best}, {"agent": other, "score": second}]
    )


def test_select_keeps_the_most_confident_half_by_lead():
    observations = [
        obs("where is my parcel", "order-agent", 0.9, 0.2),  # lead 0.7
        obs("my bill is wrong", "billing-agent", 0.8, 0.3),  # lead 0.5
        obs("something about money", "billing-agent", 0.5, 0.45),  # lead 0.05
        obs("is it this or that", "order-agent", 0.4, 0.38),  # lead 0.02
    ]
    assert select_examples(observations, max_per_agent=10) == {
        "billing-agent": ["my bill is wrong"],
        "order-agent": ["where is my parcel"],
    }


def test_select_skips_what_the_router_did_not_decide_on_scores_and_one_word_replies():
    observations = [
        # Chosen agent was not the top candidate (an LLM or rule chose it).
        obs("please cancel my subscription", "order-agent", 0.9, 0.1, top="billing-agent"),
        obs("yes", "order-agent", 0.9, 0.1),
        Observation(text="no scores here at all", agent="order-agent", candidates=[]),
        obs("  show   me my\ninvoice ", "billing-agent", 0.9, 0.1),
    ]
    assert select_examples(observations, fraction=1.0, max_per_agent=10) == {"billing-agent": ["show me my invoice"]}


def test_select_caps_each_agent_keeps_newest_on_ties_and_dedupes():
    observations = [obs(f"order question number {i}", "order-agent", 0.9, 0.1) for i in range(5)]
    observations.insert(0, obs("ORDER question number 3", "order-agent", 0.9, 0.1))
    learned = select_examples(observations, fraction=1.0, max_per_agent=3)
    assert learned == {"order-agent": ["ORDER question number 3", "order question number 0", "order question number 1"]}


_conversations = itertools.count()


def _decide(
    tenant, text: str, agent: str, best: float, second: float, *, strategy="vector", status=Turn.Status.COMPLETED
) -> None:
    """A routed, stored turn: `agent` scored `best`, the runner-up (the other demo agent) `second`."""
    conversation = Conversation.objects.create(
        tenant=tenant, conversation_id=f"c{next(_conversations)}", channel_id="web"
    )
    turn = Turn.objects.create(
        tenant=tenant,
        conversation=conversation,
        turn_id="t",
        request_hash="h",
        channel_id="web",
        status=status,
        messages=[{"role": "user", "content": "earlier"}, {"role": "user", "content": text}],
    )
    RoutingDecision.objects.create(
        tenant=tenant,
        turn=turn,
        channel_id="web",
        strategy=strategy,
        chosen_agent=agent,
        candidates=[
            {"agent": agent, "score": best},
            {"agent": "billing-agent" if agent == "order-agent" else "order-agent", "score": second},
        ],
    )


@pytest.mark.django_db
def test_learn_channel_stores_confident_answered_decisions_and_bumps_the_registry_version():
    tenant, channel = make_registry(agents={"order-agent": "o:1", "billing-agent": "b:1"})
    _decide(tenant, "where is my parcel", "order-agent", 0.8, 0.1)
    _decide(tenant, "my parcel never came", "order-agent", 0.8, 0.1)
    _decide(tenant, "why was I charged twice", "billing-agent", 0.7, 0.2)
    # Not teaching: unsure (bottom half), failed turn, follow-up rule, agent no longer installed.
    _decide(tenant, "a vague question here", "order-agent", 0.3, 0.29)
    _decide(tenant, "the turn that failed", "order-agent", 0.8, 0.1, status=Turn.Status.FAILED)
    _decide(tenant, "yes the second one", "order-agent", 0.8, 0.1, strategy="follow-up")
    _decide(tenant, "an agent that is gone", "gone-agent", 0.9, 0.1)
    _decide(tenant, "another vague question", "billing-agent", 0.3, 0.28)
    _decide(tenant, "a third vague one", "billing-agent", 0.3, 0.27)
    version = Tenant.objects.get(pk=tenant.pk).registry_version

    assert learn_channel(channel) == 3
    channel.refresh_from_db()
    # Newest first among equal leads.
    assert channel.learned_examples == {
        "billing-agent": ["why was I charged twice"],
        "order-agent": ["my parcel never came", "where is my parcel"],
    }
    tenant.refresh_from_db()
    assert tenant.registry_version == version + 1
    registry = channel_registry(tenant=tenant, channel_id="web", subset="stable")
    assert registry.learned_for("order-agent") == ("my parcel never came", "where is my parcel")

    # Nothing new: nothing written, caches stay valid.
    assert learn_channel(channel) == 3
    tenant.refresh_from_db()
    assert tenant.registry_version == version + 1

    forget(channel)
    channel.refresh_from_db()
    tenant.refresh_from_db()
    assert channel.learned_examples == {}
    assert tenant.registry_version == version + 2
    assert channel_registry(tenant=tenant, channel_id="web", subset="stable").learned == ()


@pytest.mark.django_db
def test_registry_leaves_out_learned_examples_of_agents_not_installed():
    tenant, channel = make_registry(agents={"order-agent": "o:1"})
    Channel.objects.filter(pk=channel.pk).update(
        learned_examples={"order-agent": ["where is my parcel"], "gone-agent": ["old question"]}
    )
    tenant.bump_registry_version()
    tenant.refresh_from_db()
    registry = channel_registry(tenant=tenant, channel_id="web", subset="stable")
    assert registry.learned == (("order-agent", ("where is my parcel",)),)


def test_channel_rejects_malformed_learned_examples():
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="learned_examples"):
        Channel(learned_examples={"order-agent": "not a list"}).clean()
    Channel(learned_examples={"order-agent": ["fine"]}).clean()


async def test_vector_router_uses_learned_examples():
    # A margin the descriptions alone cannot clear for this phrasing.
    registry = small_registry(vector_margin=0.1)
    query = "you charged me two times"
    with pytest.raises(AgentNotFound, match="margin"):
        await route_query(request=request_for(query, registry), router_type="vector")
    learned = replace(
        registry, registry_version=2, learned=(("billing-agent", ("you took money from my account twice",)),)
    )
    decision = await route_query(request=request_for(query, learned), router_type="vector")
    assert decision.agent == "billing-agent"
    assert decision.candidates[0].score - decision.candidates[1].score > 0.1


@pytest.mark.django_db
def test_learning_task_runs_only_when_enabled(settings):
    from routing.tasks import learn_from_traffic

    tenant, channel = make_registry(agents={"order-agent": "o:1", "billing-agent": "b:1"})
    _decide(tenant, "where is my parcel", "order-agent", 0.8, 0.1)
    settings.ROUTER_LEARN_FROM_TRAFFIC = False
    assert learn_from_traffic() == {}
    settings.ROUTER_LEARN_FROM_TRAFFIC = True
    assert learn_from_traffic() == {"acme/web/stable": 1}
    channel.refresh_from_db()
    assert channel.learned_examples == {"order-agent": ["where is my parcel"]}


def test_a_channel_threshold_overrides_the_calibrated_one_and_the_setting_overrides_it_for_all(settings):
    from routing.vector import Gate

    settings.ROUTER_VECTOR_THRESHOLD = None
    assert Gate.for_registry(small_registry()).threshold is None  # the registry's calibrated one
    assert Gate.for_registry(small_registry(vector_threshold=0.25)).threshold == 0.25
    settings.ROUTER_VECTOR_THRESHOLD = 0.22
    assert Gate.for_registry(small_registry()).threshold == 0.22
    assert Gate.for_registry(small_registry(vector_threshold=0.25)).threshold == 0.25


@pytest.mark.django_db
def test_route_learn_command_learns_and_forgets():
    from io import StringIO

    from django.core.management import call_command

    tenant, channel = make_registry(agents={"order-agent": "o:1", "billing-agent": "b:1"})
    _decide(tenant, "where is my parcel", "order-agent", 0.8, 0.1)
    out = StringIO()
    call_command("route_learn", stdout=out)
    assert out.getvalue().strip() == "acme/web/stable: 1 learned examples"
    channel.refresh_from_db()
    assert channel.learned_examples == {"order-agent": ["where is my parcel"]}
    call_command("route_learn", "--forget", stdout=StringIO())
    channel.refresh_from_db()
    assert channel.learned_examples == {}


@pytest.mark.django_db
def test_the_scheduled_learning_job_learns_only_when_enabled(settings):
    from core.scheduler import run_job

    tenant, channel = make_registry(agents={"order-agent": "o:1", "billing-agent": "b:1"})
    _decide(tenant, "where is my parcel", "order-agent", 0.8, 0.1)
    (job,) = [job for job in settings.SCHEDULE if job["task"] == "routing.tasks.learn_from_traffic"]
    assert job["every"] == "ROUTER_LEARN_INTERVAL" and not job["at_start"]
    settings.ROUTER_LEARN_FROM_TRAFFIC = False
    run_job(job)
    channel.refresh_from_db()
    assert channel.learned_examples == {}
    settings.ROUTER_LEARN_FROM_TRAFFIC = True
    run_job(job)
    channel.refresh_from_db()
    assert channel.learned_examples == {"order-agent": ["where is my parcel"]}
