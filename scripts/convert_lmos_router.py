"""Convert the public lmos-router benchmark into this runtime's evaluation form.

Writes, under OUT (default var/benchmarks/lmos-router/, not committed):
- registry-descriptions.yaml  agents and capabilities with their descriptions only
                              (what the LMOS Operator's ChannelRouting carries);
- registry-5-examples.yaml    plus 5 examples per capability, chosen from train.csv;
- registry-all-train.yaml     plus every train.csv sentence of the capability;
- test.csv, train.csv         `text,agent` (plus `intent`, which route_eval ignores).

The conversion itself is `benchmarks.suites.convert_lmos_router` (the benchmark suites load
the same files).

    python scripts/convert_lmos_router.py [--source DIR] [--out DIR] [--tenant T] [--channel C]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.suites import CACHE, benchmarks_dir, convert_lmos_router  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=benchmarks_dir() / "lmos-router")
    parser.add_argument("--out", type=Path, default=CACHE / "lmos-router")
    parser.add_argument("--tenant", default="lmos")
    parser.add_argument("--channel", default="web")
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lmos_runtime.settings")  # the encoder reads its settings
    import django

    django.setup()
    paths = convert_lmos_router(args.source, args.out, tenant=args.tenant, channel=args.channel, all_train=True)
    for name, path in paths.items():
        print(f"{name}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
