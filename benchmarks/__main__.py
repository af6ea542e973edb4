"""`make bench`: run every benchmarks/bench_*.py module's `main()` (or the ones named).

    python -m benchmarks [NAME ...] [--suites DIR] [options of the one benchmark named]

NAME is a module (`bench_routing`) or its short name (`routing`). `--suites DIR` says where
the public routing suites are (sets LMOS_BENCHMARKS_DIR; see benchmarks/suites.py).
A benchmark that does not write its own section of RESULTS.md gets its printed output
written there as a section of its own.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import os
import pkgutil
import sys
from pathlib import Path

from benchmarks.results import RESULTS, write_section


class _Tee(io.TextIOBase):
    def __init__(self, *streams) -> None:
        self.streams = streams

    def write(self, text: str) -> int:
        for stream in self.streams:
            stream.write(text)
            stream.flush()
        return len(text)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.split("\n\n")[0], allow_abbrev=False
    )
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    parser.add_argument("--suites", help="directory of the public routing suites")
    args, extra = parser.parse_known_args(argv)
    if args.suites:
        os.environ["LMOS_BENCHMARKS_DIR"] = args.suites
    available = sorted(
        m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]) if m.name.startswith("bench_")
    )
    names = [name if name.startswith("bench_") else f"bench_{name}" for name in args.names] or available
    unknown = sorted(set(names) - set(available))
    if unknown:
        parser.error(f"no benchmark {', '.join(unknown)}; there are {', '.join(available)}")
    for name in names:
        print(f"\n=== {name} ===", flush=True)
        module = importlib.import_module(f"benchmarks.{name}")
        before = RESULTS.read_text() if RESULTS.exists() else ""
        captured = io.StringIO()
        with contextlib.redirect_stdout(_Tee(sys.stdout, captured)):
            module.main(extra) if extra else module.main()
        after = RESULTS.read_text() if RESULTS.exists() else ""
        if before == after:
            write_section(name, f"## {name}\n\n```\n{captured.getvalue().strip()}\n```")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
