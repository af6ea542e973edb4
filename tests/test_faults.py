"""Faults injected for real: a PostgreSQL restarted between two turns, Redis going away.

These tests start their own PostgreSQL and Redis on free ports and stop those; the
shared instances on 5432 and 6379 are never touched.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port, start_daphne, stop_processes

ROOT = Path(__file__).resolve().parent.parent
PG_BIN = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
pytestmark = pytest.mark.slow


def _as_postgres(cmd: list[str]) -> list[str]:
    return cmd if os.geteuid() != 0 else ["runuser", "-u", "postgres", "--", *cmd]


class OwnPostgres:
    """A throw-away PostgreSQL cluster on a free port (trust auth)."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="lmos-pg-"))
        self.port = free_port()
        self.bin = PG_BIN[-1]
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        subprocess.run(
            _as_postgres([f"{self.bin}/initdb", "-D", str(self.dir / "data"), "-A", "trust", "-U", "postgres"]),
            check=True,
            capture_output=True,
        )

    def pg_ctl(self, *args: str) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1"
        # The server must not inherit our pipes (pg_ctl would never "finish"): log to a file.
        log = str(self.dir / "server.log")
        subprocess.run(
            _as_postgres([f"{self.bin}/pg_ctl", "-D", str(self.dir / "data"), "-l", log, "-o", options, "-w", *args]),
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=60,
        )

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def destroy(self) -> None:
        try:
            self.pg_ctl("stop", "-m", "immediate")
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def own_postgres():
    if not PG_BIN or (os.geteuid() == 0 and shutil.which("runuser") is None):
        pytest.skip("PostgreSQL server binaries are not installed")
    if os.geteuid() not in (0,) and os.environ.get("USER") != "postgres":
        pytest.skip("needs root (to run initdb as postgres) or the postgres user")
    server = OwnPostgres()
    server.pg_ctl("start")
    yield server
    server.destroy()


def _chat(base: str, turn: str, agent: str = "billing-agent") -> httpx.Response:
    body = {
        "inputContext": {"messages": [{"role": "user", "content": "hello"}], "explicitAgent": agent},
        "systemContext": {"channelId": "web"},
        "userContext": {"userId": "u1"},
    }
    return httpx.post(
        f"{base}/apis/v1/demo/chat/conv-1/message",
        content=json.dumps(body),
        headers={"content-type": "application/json", "x-turn-id": turn},
        timeout=30,
    )


def test_postgres_restarted_between_two_turns_next_turn_succeeds(own_postgres, tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "lmos_runtime.settings",
        "SECRET_KEY": "fault-" + "x" * 40,
        "DATABASE_URL": own_postgres.url,
        "DATA_DIR": str(tmp_path),
        "REGISTRY_SOURCE": "file",
        "AGENT_REGISTRY_FILE": str(tmp_path / "registry.yaml"),
        "LOG_LEVEL": "WARNING",
    }
    env.pop("REDIS_URL", None)
    agents = subprocess.Popen(
        [sys.executable, "manage.py", "run_demo_agents", "--base-port", "0"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    registry = (ROOT / "demo" / "registry.yaml").read_text()
    try:
        for offset in range(3):
            line = agents.stdout.readline()
            address = re.search(r"ws://([\d.]+:\d+)/", line)
            assert address, f"run_demo_agents printed {line!r}"
            registry = registry.replace(f"127.0.0.1:910{offset + 1}", address.group(1))
    except BaseException:
        stop_processes(agents)
        raise
    (tmp_path / "registry.yaml").write_text(registry)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True, timeout=120)
    subprocess.run([sys.executable, "manage.py", "sync_agents"], cwd=ROOT, env=env, check=True, capture_output=True)
    web, base = start_daphne(env)
    try:
        first = _chat(base, "t1")
        assert first.status_code == 200, first.text

        own_postgres.pg_ctl("restart", "-m", "fast")

        second = _chat(base, "t2")
        assert second.status_code == 200, second.text
        assert httpx.get(f"{base}/health/readiness", timeout=5).status_code == 200
        # Stored exactly once each.
        history_turns = (
            subprocess.run(
                [
                    sys.executable,
                    "manage.py",
                    "shell",
                    "-c",
                    "from conversations.models import Turn; "
                    "print(sorted(Turn.objects.values_list('turn_id', 'status')))",
                ],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        assert history_turns == "[('t1', 'completed'), ('t2', 'completed')]"

        own_postgres.pg_ctl("stop", "-m", "fast")
        down = _chat(base, "t3")
        assert down.status_code == 500 and down.json()["errorCode"] == "INTERNAL_SERVER_ERROR"
        assert httpx.get(f"{base}/health/readiness", timeout=10).status_code == 503
        assert httpx.get(f"{base}/health/liveness", timeout=5).status_code == 200
        own_postgres.pg_ctl("start")
        assert _chat(base, "t4").status_code == 200
    finally:
        stop_processes(web, agents)
