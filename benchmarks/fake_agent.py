"""An Arc agent for benchmarks: answers after `--delay` seconds. Run as its own process."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lmos_runtime.settings")
    import django

    django.setup()
    import random

    from tests.support.agents import injected_fault
    from tests.support.arc_server import ArcServer, agent_result

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--faults", type=float, default=0.0, help="fraction of calls that fail, at random")
    parser.add_argument("--hang", type=float, default=5.0, help="seconds a 'hanging' fault waits")
    args = parser.parse_args()

    async def behaviour(request, headers):
        if args.delay:
            await asyncio.sleep(args.delay)
        context = (request.get("request") or {}).get("conversationContext") or {}
        if args.faults and random.random() < args.faults:
            async for frame in injected_fault(random, hang=args.hang):
                yield frame
            return
        # The answer names the turn it answers, so a soak can check nothing got mixed up.
        yield agent_result(f"ok {context.get('conversationId')}/{context.get('turnId')}")

    async def serve() -> None:
        await ArcServer(behaviour, port=args.port).start()
        print("ready", flush=True)
        await asyncio.Event().wait()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
