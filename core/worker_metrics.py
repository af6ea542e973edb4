"""The Celery worker's own `/metrics` (registry syncs, agent errors of its tasks), served on
WORKER_METRICS_PORT when that is set.

The prefork pool runs tasks in child processes, each with its own counters. With
PROMETHEUS_MULTIPROC_DIR set (the Helm chart sets it for the worker), every process writes
its values to files there and the server started in the main process adds them up;
without it only the main process's values are served, which is right for `--pool=solo` or
`--pool=threads`.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

_MULTIPROC_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
if _MULTIPROC_DIR:
    # Before prometheus_client makes its first metric file there.
    Path(_MULTIPROC_DIR).mkdir(parents=True, exist_ok=True)

from prometheus_client import REGISTRY, CollectorRegistry, multiprocess, start_http_server  # noqa: E402

log = logging.getLogger("core.worker_metrics")


def start(port: int | None) -> None:
    """Serve the worker's metrics on 0.0.0.0:`port` from a daemon thread; nothing when None."""
    if not port:
        return
    registry = REGISTRY
    if _MULTIPROC_DIR:
        # A restarted container keeps its emptyDir: files of the previous run would be added
        # to this run's counters. No task process has started yet.
        for stale in Path(_MULTIPROC_DIR).glob("*.db"):
            stale.unlink(missing_ok=True)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=_MULTIPROC_DIR)
    start_http_server(port, addr="0.0.0.0", registry=registry)
    log.info("worker metrics on port %d%s", port, " (all pool processes)" if _MULTIPROC_DIR else "")


def on_worker_init(**_: object) -> None:
    from django.conf import settings

    start(settings.WORKER_METRICS_PORT)


def on_worker_process_shutdown(pid: int | None = None, **_: object) -> None:
    if _MULTIPROC_DIR:
        multiprocess.mark_process_dead(pid or os.getpid(), _MULTIPROC_DIR)
