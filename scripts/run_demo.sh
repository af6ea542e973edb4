#!/usr/bin/env bash
# `make run`: the embedded default (SQLite, in-memory cache), the demo registry file,
# the demo agents and daphne on $HOST:$PORT.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8081}
export REGISTRY_SOURCE=${REGISTRY_SOURCE:-file}
export AGENT_REGISTRY_FILE=${AGENT_REGISTRY_FILE:-demo/registry.yaml}

"$PY" manage.py migrate --noinput >/dev/null
"$PY" manage.py sync_agents
"$PY" manage.py create_demo_admin

"$PY" manage.py run_demo_agents &
AGENTS_PID=$!
trap 'kill $AGENTS_PID 2>/dev/null || true' EXIT INT TERM
sleep 2
if ! kill -0 "$AGENTS_PID" 2>/dev/null; then
  echo "The demo agents did not start (are ports 9101-9103 in use by another 'make run'?)." >&2
  exit 1
fi

cat <<MSG

LMOS Runtime demo is starting on http://$HOST:$PORT
Try it:

curl -X POST "http://$HOST:$PORT/lmos/runtime/apis/v1/demo/chat/conv-1/message" \\
  -H "Content-Type: application/json" -H "x-turn-id: turn-1" -H "x-subset: stable" \\
  -d '{"inputContext": {"messages": [{"role": "user", "format": "text", "content": "Why is my bill so high?"}]}, "systemContext": {"channelId": "web"}, "userContext": {"userId": "user456"}}'

(send another x-turn-id for the next turn of the same conversation)
Admin: http://$HOST:$PORT/admin/ (user and password printed above)
Stop with Ctrl-C.

MSG
"$PY" -m daphne -b "$HOST" -p "$PORT" lmos_runtime.asgi:application
