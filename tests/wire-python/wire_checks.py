"""Checks shared by wire_client_test.py and wire_server_test.py.

They drive a server of the "fixture" service (echo, sleep, fail; see
tests/daemon/fixture_module.c) through junction_wire.Client and through a raw
ZeroMQ DEALER sending hand-made frames, and hold every result to docs/wire.md.
Every wait is bounded.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import struct
import subprocess
import threading
import time
import traceback
from dataclasses import dataclass
from typing import Callable, Optional

import zmq

import junction_wire as wire
from junction_wire import Code

CALL_TIMEOUT = 10.0
DEADLINE_MARGIN = 0.5
DROP_WAIT = 0.3
CONNECT_TIMEOUT = 5.0
START_TIMEOUT = 10.0
EXIT_TIMEOUT = 10.0
MIB = 1024 * 1024
FAIL_MESSAGE = "fixture/fail was asked to fail"
# A server's threads: more than the 32 calls the out-of-order checks have in flight.
SERVER_THREADS = 40

_HEADER = struct.Struct("<4sBBBBQqiIQ")


def expect(condition: bool, message: str) -> None:
    """Fail the running check with ``message`` unless ``condition`` holds."""
    if not condition:
        raise AssertionError(message)


def sleep_request(delay_ms: int) -> bytes:
    """fixture/sleep's request: the delay, 8 bytes little-endian."""
    return struct.pack("<Q", delay_ms)


def raw_header(
    call_id: int,
    *,
    magic: bytes = b"JNWF",
    version: int = 1,
    kind: int = 1,
    service: bytes = b"fixture",
    method: bytes = b"echo",
    message: bytes = b"",
    message_len: Optional[int] = None,
    timeout_ns: int = -1,
    code: int = 0,
    payload_len: int = 0,
) -> bytes:
    """A header frame packed field by field, independently of junction_wire's encoder.

    ``message_len`` defaults to the length of ``message``; giving it makes a
    frame that lies about its length.
    """
    fixed = _HEADER.pack(
        magic,
        version,
        kind,
        len(service),
        len(method),
        call_id,
        timeout_ns,
        code,
        len(message) if message_len is None else message_len,
        payload_len,
    )
    return fixed + service + method + message


class Report:
    """Runs named checks, prints PASS or FAIL for each, and counts them."""

    def __init__(self) -> None:
        self.passed = 0
        self.failed: list[str] = []

    def run(self, name: str, check: Callable[..., None], *args: object) -> None:
        """Run ``check(*args)`` and record the outcome."""
        start = time.monotonic()
        try:
            check(*args)
        except AssertionError as error:
            self.failed.append(name)
            print(f"FAIL {name}: {error}", flush=True)
            return
        except Exception:  # a check that crashes is a failed check, reported in full
            self.failed.append(name)
            print(f"FAIL {name}:\n{traceback.format_exc()}", flush=True)
            return
        self.passed += 1
        print(f"PASS {name} ({time.monotonic() - start:.2f} s)", flush=True)

    def summary(self, started: float) -> int:
        """Print the totals; the exit status (0 when every check passed)."""
        elapsed = time.monotonic() - started
        print(f"{self.passed} passed, {len(self.failed)} failed in {elapsed:.1f} s")
        for name in self.failed:
            print(f"  failed: {name}")
        return 1 if self.failed else 0


class ServerProcess:
    """A server child process announcing itself as junction-host does.

    Standard output must carry "NAME: serving ... on URL" per listener, then
    "NAME: ready"; the URLs are in ``urls``. Standard error is collected.
    """

    _SERVING = re.compile(r"^\S+: serving .* on (\S+)$")

    def __init__(self, argv: list[str]) -> None:
        self.argv = argv
        self.urls: list[str] = []
        self._stdout: queue.Queue[Optional[str]] = queue.Queue()
        self._stderr: list[str] = []
        self._stderr_changed = threading.Condition()
        self.process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        threading.Thread(target=self._read_stdout, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    def _read_stdout(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._stdout.put(line.rstrip("\n"))
        self._stdout.put(None)

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            with self._stderr_changed:
                self._stderr.append(line.rstrip("\n"))
                self._stderr_changed.notify_all()

    def wait_ready(self, timeout: float = START_TIMEOUT) -> list[str]:
        """Wait for the "ready" line; the URLs bound. Raises RuntimeError on failure."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._stdout.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise RuntimeError(f"{self.argv[0]} not ready within {timeout} s") from None
            if line is None:
                raise RuntimeError(f"{self.argv[0]} ended before ready: {self.stderr_text()}")
            print(f"  server: {line}", flush=True)
            match = self._SERVING.match(line)
            if match:
                self.urls.append(match.group(1))
            elif line.endswith(": ready"):
                return self.urls

    def wait_stderr(self, text: str, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for a standard error line equal to ``text``."""
        deadline = time.monotonic() + timeout
        with self._stderr_changed:
            while text not in self._stderr:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._stderr_changed.wait(left)
            self._stderr.remove(text)
            return True

    def stderr_text(self) -> str:
        """What the process wrote to standard error so far."""
        with self._stderr_changed:
            return "\n".join(self._stderr)

    def running(self) -> bool:
        """Whether the process has not exited."""
        return self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL the process if it still runs, and reap it."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def start_watchdog(seconds: float, on_expiry: Callable[[], None]) -> threading.Timer:
    """After ``seconds``, run ``on_expiry`` and exit the whole test with status 2."""

    def expire() -> None:
        print(f"FAIL watchdog: the test ran for {seconds} s", flush=True)
        on_expiry()
        os._exit(2)

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()
    return timer


class RawPeer:
    """A bare DEALER connection for sending frames the Client would never send."""

    def __init__(self, url: str) -> None:
        self.socket = zmq.Context.instance().socket(zmq.DEALER)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.setsockopt(zmq.RECONNECT_IVL, 100)
        self.monitor = self.socket.get_monitor_socket(zmq.EVENT_DISCONNECTED)
        self.socket.connect(wire.zmq_endpoint(url))

    def __enter__(self) -> "RawPeer":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.socket.disable_monitor()
        self.monitor.close(linger=0)
        self.socket.close(linger=0)

    def send(self, frames: list[bytes]) -> None:
        """Send ``frames`` as one multipart message (blocks at most CALL_TIMEOUT)."""
        self.socket.setsockopt(zmq.SNDTIMEO, int(CALL_TIMEOUT * 1000))
        self.socket.send_multipart(frames)

    def receive(self, timeout: float) -> Optional[list[bytes]]:
        """The next message, or None when none comes within ``timeout`` seconds."""
        if not self.socket.poll(int(timeout * 1000)):
            return None
        return self.socket.recv_multipart()

    def disconnected(self, timeout: float) -> bool:
        """Whether the connection dropped (now or within ``timeout`` seconds)."""
        return bool(self.monitor.poll(int(timeout * 1000)))

    def answer(self, call_id: int, timeout: float = CALL_TIMEOUT) -> wire.Response:
        """Receive the response to ``call_id``, held to every rule a client applies."""
        frames = self.receive(timeout)
        expect(frames is not None, f"no answer within {timeout} s")
        assert frames is not None
        response = wire.decode(frames)
        expect(isinstance(response, wire.Response), f"answered with a request: {response}")
        assert isinstance(response, wire.Response)
        expect(
            response.call_id == call_id,
            f"answer for call id {response.call_id:#x}, sent {call_id:#x}",
        )
        return response

    def good_call(self, call_id: int) -> None:
        """A well-formed echo on this connection must still be answered."""
        self.send([raw_header(call_id, payload_len=4), b"ping"])
        response = self.answer(call_id)
        expect(
            response.ok and response.payload == b"ping",
            f"good call after it: {wire.code_name(response.code)} {response.message!r}",
        )


def connected_client(url: str, **options: object) -> wire.Client:
    """A Client whose connection is up."""
    client = wire.Client(url, **options)  # type: ignore[arg-type]
    if not client.wait_connected(CONNECT_TIMEOUT):
        client.close()
        raise AssertionError(f"no connection to {url} within {CONNECT_TIMEOUT} s")
    return client


def describe(response: wire.Response) -> str:
    """A response in a line, payload size instead of bytes."""
    return (
        f"{wire.code_name(response.code)} {response.message!r}, "
        f"{len(response.payload)} payload bytes"
    )


def check_echo(url: str, sizes: tuple[int, ...] = (0, 64, 64 * 1024, MIB)) -> None:
    """fixture/echo answers byte-identical payloads of each size."""
    with connected_client(url) as client:
        for size in sizes:
            payload = os.urandom(size)
            response = client.call("fixture", "echo", payload, timeout=CALL_TIMEOUT)
            expect(response.ok, f"echo of {size} B: {describe(response)}")
            expect(response.payload == payload, f"echo of {size} B came back different")


def check_echo_at_payload_limit(url: str) -> None:
    """A payload of exactly 64 MiB, the default limit, goes and comes back."""
    payload = bytes(range(256)) * (64 * MIB // 256)
    with connected_client(url) as client:
        response = client.call("fixture", "echo", payload, timeout=CALL_TIMEOUT)
    expect(response.ok, f"echo of 64 MiB: {describe(response)}")
    expect(response.payload == payload, "echo of 64 MiB came back different")


def _concurrent_delays(count: int) -> list[int]:
    """Delays in ms, longest first, so that answers come back in reverse order."""
    return [20 + 8 * (count - 1 - index) for index in range(count)]


def _check_out_of_order(order: list[int], elapsed: float, delays: list[int]) -> None:
    expect(order != sorted(order), f"answers came back in issue order: {order}")
    expect(
        elapsed < sum(delays) / 1000 / 4,
        f"{len(delays)} calls took {elapsed:.2f} s: they did not run side by side",
    )


def check_threads_out_of_order(url: str, count: int = 32) -> None:
    """``count`` threads call at once on one connection; each gets its own answer."""
    delays = _concurrent_delays(count)
    results: dict[int, wire.Response] = {}
    order: list[int] = []
    lock = threading.Lock()
    with connected_client(url) as client:

        def caller(index: int) -> None:
            request = sleep_request(delays[index])
            response = client.call("fixture", "sleep", request, timeout=CALL_TIMEOUT)
            with lock:
                results[index] = response
                order.append(index)

        threads = [threading.Thread(target=caller, args=(index,)) for index in range(count)]
        start = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(CALL_TIMEOUT + 1)
        elapsed = time.monotonic() - start
    expect(len(results) == count, f"{count - len(results)} of {count} calls never returned")
    for index, response in results.items():
        expect(response.ok, f"call {index}: {describe(response)}")
        expect(
            response.payload == sleep_request(delays[index]),
            f"call {index} got another call's answer",
        )
    _check_out_of_order(order, elapsed, delays)


def check_outstanding_out_of_order(url: str, count: int = 32) -> None:
    """One thread has ``count`` calls outstanding; each gets its own answer."""
    delays = _concurrent_delays(count)
    with connected_client(url) as client:
        start = time.monotonic()
        calls = [
            client.start_call("fixture", "sleep", sleep_request(delay), timeout=CALL_TIMEOUT)
            for delay in delays
        ]
        responses = [call.result(CALL_TIMEOUT + 1) for call in calls]
        elapsed = time.monotonic() - start
    for index, response in enumerate(responses):
        expect(response.ok, f"call {index}: {describe(response)}")
        expect(
            response.payload == sleep_request(delays[index]),
            f"call {index} got another call's answer",
        )
    order = sorted(range(count), key=lambda index: calls[index].completed_at or 0.0)
    _check_out_of_order(order, elapsed, delays)


def check_deadline_met(url: str) -> None:
    """A call well within its deadline succeeds (timeout_ns is sent in nanoseconds)."""
    with connected_client(url) as client:
        response = client.call("fixture", "sleep", sleep_request(50), timeout=5.0)
    expect(response.ok, f"sleep 50 ms with a 5 s deadline: {describe(response)}")


def check_client_deadline(url: str, deadline: float = 0.2) -> None:
    """The client answers DEADLINE_EXCEEDED at its deadline and drops the late answer."""
    with connected_client(url) as client:
        dropped = client.dropped
        start = time.monotonic()
        response = client.call("fixture", "sleep", sleep_request(1000), timeout=deadline)
        elapsed = time.monotonic() - start
        expect(
            response.code == Code.DEADLINE_EXCEEDED,
            f"sleep 1000 ms with a {deadline} s deadline: {describe(response)}",
        )
        expect(
            deadline <= elapsed <= deadline + DEADLINE_MARGIN,
            f"DEADLINE_EXCEEDED after {elapsed:.3f} s, deadline {deadline} s",
        )
        if response.message.startswith("fixture/sleep"):
            return  # the server's own DEADLINE_EXCEEDED arrived first: nothing to drop
        give_up = time.monotonic() + 2.0
        while client.dropped == dropped and time.monotonic() < give_up:
            time.sleep(0.01)
        expect(client.dropped == dropped + 1, "the server's late answer was not dropped")


def check_server_deadline(url: str) -> None:
    """The server enforces timeout_ns from receipt; 0 means already passed."""
    with RawPeer(url) as peer:
        peer.send([raw_header(1, method=b"sleep", payload_len=8), sleep_request(0)])
        expect(peer.answer(1).ok, "sleep 0 ms without a deadline failed")
        timeout = 0.1
        start = time.monotonic()
        header = raw_header(2, method=b"sleep", timeout_ns=int(timeout * 1e9), payload_len=8)
        peer.send([header, sleep_request(1000)])
        response = peer.answer(2)
        elapsed = time.monotonic() - start
        expect(
            response.code == Code.DEADLINE_EXCEEDED,
            f"sleep 1000 ms with timeout_ns 0.1 s: {describe(response)}",
        )
        expect(
            timeout * 0.9 <= elapsed <= timeout + DEADLINE_MARGIN,
            f"the server answered after {elapsed:.3f} s, timeout_ns {timeout} s",
        )
        peer.send([raw_header(3, timeout_ns=0, payload_len=2), b"hi"])
        response = peer.answer(3)
        expect(
            response.code == Code.DEADLINE_EXCEEDED,
            f"echo with timeout_ns 0: {describe(response)}",
        )


def check_cancel_never_answered(url: str) -> None:
    """A cancel gets no answer: for no call, for an answered call, for a running one.

    The running call (fixture/sleep, whose handler is not stopped) is still
    answered, once, with its own outcome.
    """
    with RawPeer(url) as peer:
        peer.send([raw_header(7, kind=3, service=b"", method=b"", timeout_ns=0), b""])
        peer.good_call(8)  # the first answer is the call's: none for the cancel
        peer.send([raw_header(8, kind=3, service=b"", method=b"", timeout_ns=0), b""])
        peer.send([raw_header(9, method=b"sleep", payload_len=8), sleep_request(100)])
        peer.send([raw_header(9, kind=3, service=b"", method=b"", timeout_ns=0), b""])
        response = peer.answer(9)
        expect(response.code in (Code.OK, Code.CANCELLED), f"sleep 100 ms: {describe(response)}")
        expect(peer.receive(DROP_WAIT) is None, "a cancel was answered")


def check_client_cancel(url: str) -> None:
    """The client answers a cancelled call CANCELLED at once and drops the server's answer."""
    with connected_client(url) as client:
        dropped = client.dropped
        call = client.start_call("fixture", "sleep", sleep_request(1000), timeout=CALL_TIMEOUT)
        give_up = time.monotonic() + CALL_TIMEOUT
        while not client.sent(call) and time.monotonic() < give_up:
            time.sleep(0.001)
        expect(client.sent(call), f"the call was not sent within {CALL_TIMEOUT} s")
        expect(client.cancel(call), "the call had its answer before it was cancelled")
        response = call.result(0)
        expect(response.code == Code.CANCELLED, f"the cancelled call: {describe(response)}")
        expect(not client.cancel(call), "a call cancelled twice")
        give_up = time.monotonic() + 2.0
        while client.dropped == dropped and time.monotonic() < give_up:
            time.sleep(0.01)
        expect(client.dropped == dropped + 1, "the server's late answer was not dropped")
        response = client.call("fixture", "echo", b"after", timeout=CALL_TIMEOUT)
        expect(response.ok and response.payload == b"after", f"echo after: {describe(response)}")


def check_fail(url: str) -> None:
    """fixture/fail with a code byte answers that code and its message, no payload."""
    with connected_client(url) as client:
        for code in range(Code.CANCELLED, Code.UNAUTHENTICATED + 1):
            response = client.call("fixture", "fail", bytes([code]), timeout=CALL_TIMEOUT)
            expect(
                response.code == code and response.message == FAIL_MESSAGE,
                f"fail {wire.code_name(code)}: {describe(response)}",
            )
            expect(response.payload == b"", f"fail {wire.code_name(code)} carried a payload")


def check_not_found(url: str) -> None:
    """An unknown service and an unknown method are answered NOT_FOUND."""
    with connected_client(url) as client:
        for service, method in (("no-such-service", "echo"), ("fixture", "no-such-method")):
            response = client.call(service, method, b"x", timeout=CALL_TIMEOUT)
            expect(
                response.code == Code.NOT_FOUND,
                f"{service}/{method}: {describe(response)}",
            )


@dataclass(frozen=True)
class Malformed:
    """A message a client can send that the server cannot read, and the doc's answer.

    ``frames(call_id)`` builds it; ``code`` None means the server drops it.
    """

    name: str
    frames: Callable[[int], list[bytes]]
    code: Optional[Code]
    message_prefix: str = ""


def _request(call_id: int, **fields: object) -> bytes:
    return raw_header(call_id, **fields)  # type: ignore[arg-type]


def _cancel(call_id: int, **fields: object) -> bytes:
    cancel: dict[str, object] = {"kind": 3, "service": b"", "method": b"", "timeout_ns": 0}
    cancel.update(fields)
    return raw_header(call_id, **cancel)  # type: ignore[arg-type]


def malformed_cases() -> list[Malformed]:
    """Every row of the doc's table that a client can send, and more of each."""
    over = wire.DEFAULT_PAYLOAD_LIMIT + 1
    ia = Code.INVALID_ARGUMENT
    return [
        Malformed("empty header frame", lambda i: [b"", b""], None),
        Malformed("header of 3 bytes", lambda i: [b"JNW", b""], None),
        Malformed("wrong magic", lambda i: [b"JNWX" + _request(i)[4:], b""], None),
        Malformed("wrong magic, 3 frames", lambda i: [b"XNWF" + _request(i)[4:], b"", b""], None),
        Malformed("header of 15 bytes", lambda i: [_request(i)[:15], b""], None),
        Malformed("magic only, 1 frame", lambda i: [b"JNWF"], None),
        Malformed(
            "version 2",
            lambda i: [_request(i, version=2), b""],
            Code.FAILED_PRECONDITION,
            "unsupported wire protocol version 2",
        ),
        Malformed(
            "version 0, header of 16 bytes",
            lambda i: [_request(i, version=0)[:16], b""],
            Code.FAILED_PRECONDITION,
            "unsupported wire protocol version 0",
        ),
        Malformed(
            "version 2, 3 frames",
            lambda i: [_request(i, version=2), b"", b""],
            Code.FAILED_PRECONDITION,
            "unsupported wire protocol version 2",
        ),
        Malformed("header of 16 bytes", lambda i: [_request(i)[:16], b""], ia),
        Malformed("header of 39 bytes", lambda i: [_request(i)[:39], b""], ia),
        Malformed("kind 0", lambda i: [_request(i, kind=0), b""], ia),
        Malformed("kind 4", lambda i: [_request(i, kind=4), b""], ia),
        Malformed("cancel with names", lambda i: [_request(i, kind=3, timeout_ns=0), b""], ia),
        Malformed("cancel with a timeout", lambda i: [_cancel(i, timeout_ns=-1), b""], ia),
        Malformed("cancel with a code", lambda i: [_cancel(i, code=1), b""], ia),
        Malformed("cancel with a payload", lambda i: [_cancel(i, payload_len=1), b"x"], ia),
        Malformed("cancel with a message", lambda i: [_cancel(i, message=b"why"), b""], ia),
        Malformed("cancel, 1 frame", lambda i: [_cancel(i)], ia),
        Malformed("message_len 65536", lambda i: [_request(i, message_len=65536), b""], ia),
        Malformed("header 1 byte too long", lambda i: [_request(i) + b"x", b""], ia),
        Malformed("header 1 byte too short", lambda i: [_request(i)[:-1], b""], ia),
        Malformed(
            "payload_len over the 64 MiB limit",
            lambda i: [_request(i, payload_len=over), b""],
            Code.RESOURCE_EXHAUSTED,
        ),
        Malformed(
            "payload_len over the limit, 1 frame",
            lambda i: [_request(i, payload_len=over)],
            Code.RESOURCE_EXHAUSTED,
        ),
        Malformed(
            "payload_len 64 MiB (the limit), payload frame 0 B",
            lambda i: [_request(i, payload_len=wire.DEFAULT_PAYLOAD_LIMIT), b""],
            ia,
        ),
        Malformed(
            "payload_len 3, payload frame 2 B", lambda i: [_request(i, payload_len=3), b"hi"], ia
        ),
        Malformed(
            "payload_len 1, payload frame 2 B", lambda i: [_request(i, payload_len=1), b"hi"], ia
        ),
        Malformed("1 frame", lambda i: [_request(i)], ia),
        Malformed("3 frames", lambda i: [_request(i), b"", b""], ia),
        Malformed("empty service name", lambda i: [_request(i, service=b""), b""], ia),
        Malformed("empty method name", lambda i: [_request(i, method=b""), b""], ia),
        Malformed("NUL in service name", lambda i: [_request(i, service=b"fix\0ture"), b""], ia),
        Malformed("NUL in method name", lambda i: [_request(i, method=b"echo\0"), b""], ia),
        Malformed("timeout_ns -2", lambda i: [_request(i, timeout_ns=-2), b""], ia),
        Malformed("timeout_ns -2**63", lambda i: [_request(i, timeout_ns=-(2**63)), b""], ia),
        Malformed("code 1 in a request", lambda i: [_request(i, code=1), b""], ia),
        Malformed(
            "message in a request",
            lambda i: [_request(i, message=b"oops"), b""],
            ia,
        ),
        Malformed(
            "well-formed response sent to the server",
            lambda i: [_request(i, kind=2, service=b"", method=b"", timeout_ns=0), b""],
            ia,
        ),
        Malformed(
            "response with names sent to the server",
            lambda i: [_request(i, kind=2, timeout_ns=0), b""],
            ia,
        ),
        Malformed(
            "response with code 17 sent to the server",
            lambda i: [_request(i, kind=2, service=b"", method=b"", timeout_ns=0, code=17), b""],
            ia,
        ),
    ]


def check_malformed(url: str, case: Malformed, call_id: int) -> None:
    """The server answers ``case`` as the doc's table says, then still serves."""
    with RawPeer(url) as peer:
        peer.send(case.frames(call_id))
        if case.code is None:
            frames = peer.receive(DROP_WAIT)
            expect(frames is None, f"expected no answer, got {frames!r:.200}")
        else:
            response = peer.answer(call_id)
            expect(
                response.code == case.code,
                f"expected {case.code.name}, got {describe(response)}",
            )
            expect(response.payload == b"", "an error answer carried a payload")
            expect(response.message != "", "an error answer without a message")
            expect(
                response.message.startswith(case.message_prefix),
                f"message {response.message!r} does not start {case.message_prefix!r}",
            )
        peer.good_call(call_id + 1)


def check_frame_over_limit(url: str) -> None:
    """A payload frame over the 64 MiB frame limit: the connection closes, no answer.

    ZeroMQ refuses the frame before junction sees it, so the server cannot
    answer; the DEALER reconnects and the next call succeeds.
    """
    size = wire.DEFAULT_PAYLOAD_LIMIT + 1
    with RawPeer(url) as peer:
        peer.good_call(1)
        peer.send([raw_header(2, payload_len=size), bytes(size)])
        expect(peer.disconnected(5.0), "the server kept the connection")
        expect(peer.receive(DROP_WAIT) is None, "the oversized frame was answered")
        peer.good_call(3)


def check_client_payload_limit(url: str) -> None:
    """A response over the client's own payload limit is RESOURCE_EXHAUSTED."""
    with connected_client(url, payload_limit=1024) as client:
        response = client.call("fixture", "echo", bytes(1024), timeout=CALL_TIMEOUT)
        expect(response.ok, f"echo of 1024 B with a 1024 B limit: {describe(response)}")
        response = client.call("fixture", "echo", bytes(1025), timeout=CALL_TIMEOUT)
        expect(
            response.code == Code.RESOURCE_EXHAUSTED,
            f"echo of 1025 B with a 1024 B limit: {describe(response)}",
        )


def check_no_server(url: str) -> None:
    """With nothing listening a call is answered UNAVAILABLE at once."""
    with wire.Client(url) as client:
        start = time.monotonic()
        response = client.call("fixture", "echo", b"x", timeout=CALL_TIMEOUT)
        elapsed = time.monotonic() - start
    expect(response.code == Code.UNAVAILABLE, f"no server: {describe(response)}")
    expect(elapsed < 1.0, f"UNAVAILABLE took {elapsed:.2f} s")


def check_serving(url: str) -> None:
    """The server still answers a good call."""
    with connected_client(url) as client:
        response = client.call("fixture", "echo", b"still there", timeout=CALL_TIMEOUT)
    expect(response.ok and response.payload == b"still there", describe(response))


def check_drain_on_sigterm(server: ServerProcess, url: str) -> None:
    """SIGTERM mid-call: new calls UNAVAILABLE, the call answered, exit status 0."""
    with connected_client(url) as client:
        call = client.start_call("fixture", "sleep", sleep_request(3000), timeout=CALL_TIMEOUT)
        expect(
            server.wait_stderr("fixture: sleep 3000 ms", CALL_TIMEOUT),
            "the sleep call never started",
        )
        server.process.send_signal(signal.SIGTERM)
        give_up = time.monotonic() + 2.0
        while True:
            response = client.call("fixture", "echo", b"x", timeout=CALL_TIMEOUT)
            if not response.ok or time.monotonic() > give_up:
                break
            time.sleep(0.01)
        expect(
            response.code == Code.UNAVAILABLE and "closing" in response.message,
            f"a new call while draining: {describe(response)}",
        )
        response = call.result(CALL_TIMEOUT)
        expect(response.ok, f"the call in flight at SIGTERM: {describe(response)}")
    try:
        status = server.process.wait(EXIT_TIMEOUT)
    except subprocess.TimeoutExpired:
        server.kill()
        raise AssertionError(f"still running {EXIT_TIMEOUT} s after SIGTERM") from None
    expect(status == 0, f"exit status {status} after SIGTERM; stderr:\n{server.stderr_text()}")


def run_server_checks(report: Report, url: str, label: str) -> None:
    """Every check against a fixture server at ``url``, named with ``label``."""
    report.run(f"{label} echo 0 B, 64 B, 64 KiB, 1 MiB", check_echo, url)
    report.run(f"{label} echo 64 MiB (the payload limit)", check_echo_at_payload_limit, url)
    report.run(f"{label} 32 threads, answers out of order", check_threads_out_of_order, url)
    report.run(
        f"{label} 32 outstanding calls from one thread, out of order",
        check_outstanding_out_of_order,
        url,
    )
    report.run(f"{label} deadline met", check_deadline_met, url)
    report.run(f"{label} client deadline", check_client_deadline, url)
    report.run(f"{label} server deadline (timeout_ns 0.1 s and 0)", check_server_deadline, url)
    report.run(f"{label} cancels are never answered", check_cancel_never_answered, url)
    report.run(f"{label} client cancel", check_client_cancel, url)
    report.run(f"{label} fixture/fail codes 1..16", check_fail, url)
    report.run(f"{label} unknown service and method", check_not_found, url)
    for number, case in enumerate(malformed_cases()):
        expected = case.code.name if case.code is not None else "dropped"
        call_id = 0x0102030405060700 + 2 * number
        report.run(
            f"{label} malformed: {case.name} -> {expected}", check_malformed, url, case, call_id
        )
    report.run(f"{label} frame over the frame limit", check_frame_over_limit, url)
    report.run(f"{label} client payload limit", check_client_payload_limit, url)
    report.run(f"{label} still serving", check_serving, url)


def run_server_process_checks(
    report: Report,
    command: list[str],
    directory: str,
    label: str,
    watchdog_seconds: float,
    more_checks: Callable[[ServerProcess], None] = lambda server: None,
) -> None:
    """Start a fixture server and put it through every check.

    ``command`` starts a server that takes junction-host's --listen,
    --threads and --drain-timeout options and prints its URLs as
    junction-host does; it listens on zmq+tcp://127.0.0.1:0 and on an ipc
    socket in ``directory``. Runs run_server_checks on both URLs, then
    ``more_checks(server)``, then SIGTERM with a call in flight. The server
    is killed when the checks end or ``watchdog_seconds`` pass.
    """
    server = ServerProcess(
        command
        + [
            "--listen",
            "zmq+tcp://127.0.0.1:0",
            "--listen",
            f"zmq+ipc://{directory}/fixture.sock",
            "--threads",
            str(SERVER_THREADS),
            "--drain-timeout",
            "5",
        ]
    )
    start_watchdog(watchdog_seconds, server.kill)
    try:
        urls = server.wait_ready()
        tcp = next(url for url in urls if url.startswith("zmq+tcp://"))
        ipc = next(url for url in urls if url.startswith("zmq+ipc://"))
        run_server_checks(report, tcp, f"{label}tcp")
        run_server_checks(report, ipc, f"{label}ipc")
        more_checks(server)
        report.run(f"{label}SIGTERM: drains, exits 0", check_drain_on_sigterm, server, tcp)
    finally:
        server.kill()
