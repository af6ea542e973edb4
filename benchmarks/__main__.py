"""`make bench`: run every benchmarks/bench_*.py module's `main()` (or the ones named).

A benchmark that does not write its own section of RESULTS.md gets its printed output
written there as a section of its own.
"""

from __future__ import annotations

import contextlib
import importlib
import io
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
    names = argv or sorted(
        m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]) if m.name.startswith("bench_")
    )
    for name in names:
        print(f"\n=== {name} ===", flush=True)
        module = importlib.import_module(f"benchmarks.{name}")
        before = RESULTS.read_text() if RESULTS.exists() else ""
        captured = io.StringIO()
        with contextlib.redirect_stdout(_Tee(sys.stdout, captured)):
            module.main()
        after = RESULTS.read_text() if RESULTS.exists() else ""
        if before == after:
            write_section(name, f"## {name}\n\n```\n{captured.getvalue().strip()}\n```")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
