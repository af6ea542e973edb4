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
    from agents.arc_server import ArcServer, agent_result

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay", type=float, default=0.0)
    args = parser.parse_args()

    async def behaviour(request, headers):
        if args.delay:
            await asyncio.sleep(args.delay)
        yield agent_result("ok")

    async def serve() -> None:
        await ArcServer(behaviour, port=args.port).start()
        print("ready", flush=True)
        await asyncio.Event().wait()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
