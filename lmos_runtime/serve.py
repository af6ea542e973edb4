"""`python -m lmos_runtime.serve` — daphne, with a graceful stop.

Takes daphne's own arguments. On SIGTERM (or SIGINT) it stops accepting connections at
once, lets the chat turns in flight finish (up to SHUTDOWN_GRACE seconds), then stops.
Plain daphne would cancel them, and their clients would get no answer.
"""

from __future__ import annotations

import logging
import os
import signal
import time

from daphne.cli import CommandLineInterface
from daphne.server import Server
from twisted.internet import reactor

log = logging.getLogger("lmos_runtime.serve")


class GracefulServer(Server):
    def run(self) -> None:
        self.ports: list = []
        reactor.callWhenRunning(self._install_signal_handlers)
        super().run()

    def listen_success(self, port) -> None:
        self.ports.append(port)
        super().listen_success(port)

    def _install_signal_handlers(self) -> None:
        # Installed once the reactor runs, so they replace Twisted's own (which stop at once).
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: reactor.callFromThread(self.drain))

    def drain(self) -> None:
        if getattr(self, "draining", False):
            return
        self.draining = True
        from django.conf import settings

        from conversations import limits

        for port in self.ports:
            port.stopListening()
        deadline = time.monotonic() + settings.SHUTDOWN_GRACE
        log.warning("stopping: no new connections; waiting for %d turns in flight", limits.inflight_count())

        def check() -> None:
            if limits.inflight_count() == 0 or time.monotonic() >= deadline:
                log.warning("stopped with %d turns in flight", limits.inflight_count())
                reactor.stop()
            else:
                reactor.callLater(0.1, check)

        check()


class GracefulCommandLineInterface(CommandLineInterface):
    server_class = GracefulServer


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lmos_runtime.settings")
    GracefulCommandLineInterface.entrypoint()


if __name__ == "__main__":
    main()
