"""Registry sync: 1,000 channels x 5 agents from a loopback LMOS Operator.

The operator runs in its own process (as the real one does), answering like the LMOS
Operator. Three syncs are timed: the first (everything is new), a resync with no change,
and a resync where 1% of the channels changed. For each: seconds (fetch / apply), SQL
statements, and what changed. Runs against DATABASE_URL when set (a scratch database
named lmos_bench_sync), else a scratch SQLite file. Asserts nothing about time.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path

CHANNELS = 1000
AGENTS = 5
TENANT = "bench"


def _agents(channel: int, generation: int = 0) -> dict[str, str]:
    suffix = f" (rev {generation})" if generation else ""
    return {f"agent-{channel}-{i}": f"Agent {i} of channel {channel}{suffix}" for i in range(AGENTS)}


def _serve(conn) -> None:
    """The operator process: serve the registry; change 1% of it when told."""
    from tests.support.registry_fakes import FakeOperator, routing_doc

    operator = FakeOperator()
    for channel in range(CHANNELS):
        operator.put(routing_doc(TENANT, f"channel-{channel}", agents=_agents(channel)))
    conn.send(operator.url)
    while True:
        command = conn.recv()
        if command == "change":
            for channel in range(0, CHANNELS, 100):
                operator.put(routing_doc(TENANT, f"channel-{channel}", agents=_agents(channel, 1)))
            conn.send("ok")
        else:
            operator.close()
            conn.send("bye")
            return


def _setup_django() -> None:
    root = Path(__file__).resolve().parent.parent
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lmos_runtime.settings")
    import django

    django.setup()


def main() -> None:
    _setup_django()
    import logging

    from django.conf import settings
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from agents.services import registry_fetch, registry_record_sync
    from agents.sources.operator import OperatorSource

    logging.getLogger("agents.sync").setLevel(logging.WARNING)
    db = settings.DATABASES["default"]
    scratch = tempfile.mkdtemp(prefix="bench-sync-")
    db.setdefault("TEST", {})["NAME"] = (
        str(Path(scratch) / "bench.sqlite3") if db["ENGINE"].endswith("sqlite3") else "lmos_bench_sync"
    )
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    parent, child = multiprocessing.get_context("spawn").Pipe()
    process = multiprocessing.get_context("spawn").Process(target=_serve, args=(child,), daemon=True)
    process.start()
    try:
        url = parent.recv()
        source = OperatorSource(url, timeout=60)
        engine = db["ENGINE"].rsplit(".", 1)[-1]
        print(f"{CHANNELS} channels x {AGENTS} agents (1 capability each) from a loopback operator; database {engine}")
        print(f"{'sync':<22}{'seconds':>9}{'fetch':>8}{'apply':>8}{'SQL':>7}  changes")
        for label in ("first sync", "no-change resync", "1% changed resync"):
            if label.startswith("1%"):
                parent.send("change")
                parent.recv()
            started = time.perf_counter()
            fetched = registry_fetch(source=source, tenant_id=TENANT, subset="stable")
            fetched_at = time.perf_counter()
            with CaptureQueriesContext(connection) as queries:
                run = registry_record_sync(fetched=fetched)
            done = time.perf_counter()
            assert run.status == "ok", run.error
            print(
                f"{label:<22}{done - started:>9.2f}{fetched_at - started:>8.2f}{done - fetched_at:>8.2f}"
                f"{len(queries):>7}  +{run.added} ~{run.updated} -{run.removed} (version {run.registry_version})"
            )
    finally:
        parent.send("stop")
        process.join(10)
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
