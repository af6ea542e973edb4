"""Micro-batching of the queries' encodings (routing/vector/_batch.py) and the encoders'
thread count from the process's cores (routing/vector/_threads.py)."""

import asyncio

import numpy as np
import pytest

from routing.vector._batch import Batcher
from routing.vector._embeddings import Embedder, get_embedder
from routing.vector._threads import available_cores, encoder_threads

QUERIES = [
    "why is my bill so high",
    "I want to cancel my contract",
    "my wifi keeps dropping every evening",
    "where is my parcel",
    "I forgot my password",
    "I want my money back for the broken phone",
    "unsubscribe me from the newsletter",
    "how much is roaming in France",
    "can I pay with paypal",
    "hello",
]


@pytest.fixture(scope="module")
def embedder():
    return get_embedder()


def _assert_same(batched, alone) -> None:
    """One text's encoding from a batch against its encoding alone, per encoder."""
    assert len(batched) == len(alone)
    for (matrix, tokens), (matrix_alone, tokens_alone) in zip(batched, alone, strict=True):
        assert matrix.shape == matrix_alone.shape == (1, matrix_alone.shape[1])
        np.testing.assert_allclose(matrix, matrix_alone, atol=1e-5)
        assert tokens[0].keys == tokens_alone[0].keys
        np.testing.assert_allclose(tokens[0].weights, tokens_alone[0].weights)
        np.testing.assert_allclose(tokens[0].vectors, tokens_alone[0].vectors, atol=1e-5)


def test_concurrent_callers_get_their_own_rows_with_the_vectors_of_unbatched_runs(embedder):
    batcher = Batcher(max_texts=8)

    async def all_at_once():
        return await asyncio.gather(*(batcher.encode(embedder, [query]) for query in QUERIES))

    results = asyncio.run(all_at_once())
    # Ten callers, at most 8 texts a batch: at least two batches, and some of them shared.
    assert sum(batcher.batch_sizes) == len(QUERIES)
    assert max(batcher.batch_sizes) > 1
    assert max(batcher.batch_sizes) <= 8
    for query, result in zip(QUERIES, results, strict=True):
        _assert_same(result, embedder.encode_with_tokens([query], defer=True))
    # Rows differ between callers: nobody got a neighbour's.
    first_encoder = [result[0][0][0] for result in results]
    assert all(not np.allclose(first_encoder[0], other) for other in first_encoder[1:])


def test_a_caller_with_several_texts_gets_them_in_order(embedder):
    batcher = Batcher(max_texts=8)

    async def two_callers():
        return await asyncio.gather(batcher.encode(embedder, QUERIES[:3]), batcher.encode(embedder, QUERIES[3:5]))

    mine, theirs = asyncio.run(two_callers())
    alone = embedder.encode_with_tokens(QUERIES[:3], defer=True)
    for (matrix, tokens), (matrix_alone, tokens_alone) in zip(mine, alone, strict=True):
        assert matrix.shape[0] == len(tokens) == 3
        np.testing.assert_allclose(matrix, matrix_alone, atol=1e-5)
        assert [t.keys for t in tokens] == [t.keys for t in tokens_alone]
    assert all(matrix.shape[0] == 2 for matrix, _ in theirs)


def test_a_lone_query_runs_at_once_in_a_batch_of_its_own(embedder):
    batcher = Batcher(max_texts=8)

    async def one_after_another():
        for query in QUERIES[:3]:
            await batcher.encode(embedder, [query])

    asyncio.run(one_after_another())
    assert list(batcher.batch_sizes) == [1, 1, 1]


def test_requests_for_different_embedders_are_not_mixed(embedder):
    use_only = Embedder(name="use-only", encoders=(embedder.encoders[-1],), load_seconds=0.0)
    batcher = Batcher(max_texts=8)

    async def mixed():
        return await asyncio.gather(
            *(batcher.encode(embedder if i % 2 else use_only, [query]) for i, query in enumerate(QUERIES[:6]))
        )

    results = asyncio.run(mixed())
    for i, (query, result) in enumerate(zip(QUERIES, results, strict=False)):
        which = embedder if i % 2 else use_only
        _assert_same(result, which.encode_with_tokens([query], defer=True))


class BrokenEncoder:
    name = "broken"
    multilingual = False

    def encode_with_tokens(self, texts, *, defer=False):
        raise RuntimeError("model file is corrupt")


def test_an_encoder_error_reaches_every_caller_and_the_batcher_keeps_working(embedder):
    broken = Embedder(name="broken", encoders=(BrokenEncoder(),), load_seconds=0.0)
    batcher = Batcher(max_texts=8)

    async def callers():
        return await asyncio.gather(*(batcher.encode(broken, [q]) for q in QUERIES[:4]), return_exceptions=True)

    errors = asyncio.run(callers())
    assert all(isinstance(e, RuntimeError) and "corrupt" in str(e) for e in errors)
    result = asyncio.run(batcher.encode(embedder, [QUERIES[0]]))
    _assert_same(result, embedder.encode_with_tokens([QUERIES[0]], defer=True))


@pytest.mark.parametrize(
    ("files", "affinity", "cores"),
    [
        ({}, 4, 4),  # no cgroup files: the CPUs it may run on
        ({"cpu.max": "max 100000"}, 8, 8),  # v2, no limit
        ({"cpu.max": "100000 100000"}, 16, 1),  # v2, limit 1 on a 16-CPU node
        ({"cpu.max": "150000 100000"}, 16, 1),  # 1.5 cores: rounded down
        ({"cpu.max": "400000 100000"}, 2, 2),  # the affinity is the tighter bound
        ({"cpu.max": "50000 100000"}, 8, 1),  # half a core: still one thread
        ({"cpu.max": "garbage"}, 3, 3),
        ({"cpu/cpu.cfs_quota_us": "200000", "cpu/cpu.cfs_period_us": "100000"}, 16, 2),  # v1
        ({"cpu,cpuacct/cpu.cfs_quota_us": "300000", "cpu,cpuacct/cpu.cfs_period_us": "100000"}, 16, 3),
        ({"cpu/cpu.cfs_quota_us": "-1", "cpu/cpu.cfs_period_us": "100000"}, 6, 6),  # v1, no limit
    ],
)
def test_available_cores_reads_the_cgroup_limit_and_the_affinity(tmp_path, files, affinity, cores):
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n")
    assert available_cores(tmp_path, affinity=affinity) == cores


def test_available_cores_of_this_process_is_within_its_affinity():
    import os

    assert 1 <= available_cores() <= len(os.sched_getaffinity(0))


@pytest.mark.parametrize(("cores", "threads"), [(1, 1), (2, 1), (3, 1), (5, 2), (16, 7)])
def test_encoder_threads_leave_a_core_to_the_event_loop_and_share_the_rest(settings, cores, threads):
    settings.ROUTER_ENCODER_THREADS = 0
    assert encoder_threads(cores) == threads


def test_encoder_threads_setting_overrides_the_cores(settings):
    settings.ROUTER_ENCODER_THREADS = 3
    assert encoder_threads(1) == 3


def test_a_caller_that_gives_up_leaves_the_others_their_results(embedder):
    batcher = Batcher(max_texts=8)

    async def one_gives_up():
        tasks = [asyncio.ensure_future(batcher.encode(embedder, [query])) for query in QUERIES[:4]]
        await asyncio.sleep(0)
        tasks[1].cancel()
        return await asyncio.gather(*tasks, return_exceptions=True)

    results = asyncio.run(one_gives_up())
    assert isinstance(results[1], asyncio.CancelledError)
    for k in (0, 2, 3):
        _assert_same(results[k], embedder.encode_with_tokens([QUERIES[k]], defer=True))
