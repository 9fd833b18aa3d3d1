"""The junction-host tests' "fixture" service, served in Python over junction's wire.

    /usr/bin/python3 fixture_server.py --listen URL [--listen URL]... [--threads N]
                                       [--drain-timeout SECONDS]

It behaves as tests/daemon/fixture_module.c describes (echo, sleep, fail) and
talks like junction-host: once every URL is bound, standard output carries
"fixture_server: serving fixture on URL" per URL, then "fixture_server: ready";
sleep writes "fixture: sleep N ms" to standard error when it starts. On SIGTERM
or SIGINT it answers new calls UNAVAILABLE, lets the calls in flight finish and
exits 0 (1 when the drain timeout cut calls short).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from typing import Optional

from junction_wire import Code, Status, serve

FAIL_MESSAGE = "fixture/fail was asked to fail"


def echo(request: bytes, deadline: Optional[float]) -> bytes:
    """The request, unchanged."""
    return request


def sleep(request: bytes, deadline: Optional[float]) -> bytes:
    """The request after the delay it holds (8 bytes, little-endian milliseconds)."""
    if len(request) != 8:
        raise Status(
            Code.INVALID_ARGUMENT,
            "fixture/sleep wants an 8-byte little-endian delay in milliseconds",
        )
    delay_ms = int.from_bytes(request, "little")
    print(f"fixture: sleep {delay_ms} ms", file=sys.stderr, flush=True)
    wake = time.monotonic() + delay_ms / 1000
    if deadline is not None and deadline < wake:
        time.sleep(max(0.0, deadline - time.monotonic()))
        raise Status(Code.DEADLINE_EXCEEDED, "fixture/sleep: the deadline came first")
    time.sleep(max(0.0, wake - time.monotonic()))
    return request


def fail(request: bytes, deadline: Optional[float]) -> bytes:
    """Fails with the status code the one-byte request holds."""
    if len(request) != 1:
        raise Status(Code.INVALID_ARGUMENT, "fixture/fail wants one byte: a status code")
    code = request[0]
    if not Code.CANCELLED <= code <= Code.UNAUTHENTICATED:
        raise Status(Code.INVALID_ARGUMENT, f"fixture/fail cannot fail with status code {code}")
    raise Status(code, FAIL_MESSAGE)


def main() -> int:
    """Serve until SIGTERM or SIGINT; the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", action="append", required=True, metavar="URL")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--drain-timeout", type=float, default=30.0)
    args = parser.parse_args()

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    signal.signal(signal.SIGINT, lambda signum, frame: stop.set())

    def ready(urls: list[str]) -> None:
        for url in urls:
            print(f"fixture_server: serving fixture on {url}")
        print("fixture_server: ready", flush=True)

    services = {"fixture": {"echo": echo, "sleep": sleep, "fail": fail}}
    drained = serve(
        args.listen,
        services,
        stop,
        threads=args.threads,
        drain_timeout=args.drain_timeout,
        on_ready=ready,
    )
    return 0 if drained else 1


if __name__ == "__main__":
    status = main()
    # A handler still running past the drain timeout is left behind, as
    # junction-host leaves it: the interpreter would wait for the pool's
    # threads at exit, so the process ends here.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
