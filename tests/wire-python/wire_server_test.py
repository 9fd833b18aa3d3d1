"""junction_wire's own codec, Client and Server, checked against docs/wire.md.

    /usr/bin/python3 wire_server_test.py

Three parts:

1. the codec: the document's example request byte for byte, status messages
   cut at a UTF-8 boundary, the encoders' refusals, and every malformed case
   of wire_checks decoded to the answer the document's table gives;
2. the Client's side of the table: a scripted ROUTER in this process answers
   with broken responses, which the Client must turn into INTERNAL
   (RESOURCE_EXHAUSTED for a payload over its limit), drop when they cannot be
   identified or come late, and a dropped connection into UNAVAILABLE; a
   cancelled call's request is never sent, or is followed by its cancel;
3. the Server: fixture_server.py started as a child process on
   zmq+tcp://127.0.0.1:0 and an ipc path under a fresh temporary directory,
   put through wire_checks.run_server_checks on both, then SIGTERM with a call
   in flight: the call answered and exit status 0.

Prints PASS or FAIL per check; exits 0 only when all pass. The child is killed
on any failure, and the whole run on a 100 s watchdog.
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import threading
import time
from typing import Callable

import zmq

import junction_wire as wire
import wire_checks as checks
from junction_wire import Code
from wire_checks import expect, raw_header

WATCHDOG_SECONDS = 100.0
HERE = os.path.dirname(os.path.abspath(__file__))

DOC_EXAMPLE = bytes.fromhex(
    "4A4E5746 01 01 01 01"
    "0807060504030201"
    "FFFFFFFFFFFFFFFF"
    "00000000 00000000"
    "2211000000000000"
    "736D"
)


def check_doc_example() -> None:
    """encode_request and decode agree with the document's example byte for byte."""
    header = wire.encode_request(0x0102030405060708, "s", "m", 0x1122)
    expect(header == DOC_EXAMPLE, f"encoded {header.hex()}, the doc shows {DOC_EXAMPLE.hex()}")
    request = wire.decode([DOC_EXAMPLE, bytes(0x1122)])
    expected = wire.Request(0x0102030405060708, "s", "m", -1, bytes(0x1122))
    expect(request == expected, f"decoded {request}")


def check_message_cut() -> None:
    """A status message over 65535 bytes is cut at a UTF-8 character boundary."""
    two_byte = "\u00e9" * 40000
    expect(len(wire.cut_message(two_byte)) == 65534, "2-byte characters not cut at 65534")
    expect(len(wire.cut_message("a" + two_byte)) == 65535, "cut short of 65535 bytes")
    header = wire.encode_response(9, Code.NOT_FOUND, two_byte)
    response = wire.decode([header, b""])
    expect(isinstance(response, wire.Response), "the cut response does not decode")
    assert isinstance(response, wire.Response)
    expect(response.message == "\u00e9" * 32767, "the cut message does not decode whole")


def check_encoder_refusals() -> None:
    """The encoders refuse what the protocol does not allow."""
    refusals: list[tuple[str, Callable[[], bytes]]] = [
        ("empty service", lambda: wire.encode_request(1, "", "m", 0)),
        ("256-byte method", lambda: wire.encode_request(1, "s", "m" * 256, 0)),
        ("NUL in a name", lambda: wire.encode_request(1, "s\0", "m", 0)),
        ("timeout_ns -2", lambda: wire.encode_request(1, "s", "m", 0, -2)),
        ("call id 2**64", lambda: wire.encode_request(2**64, "s", "m", 0)),
        ("code 17", lambda: wire.encode_response(1, 17)),
        ("payload with an error", lambda: wire.encode_response(1, Code.INTERNAL, "", 1)),
    ]
    for what, encode in refusals:
        try:
            encode()
        except ValueError:
            continue
        raise AssertionError(f"encoded a frame with {what}")
    expect(len(wire.encode_request(1, "s" * 255, "m" * 255, 0)) == 550, "255-byte names")


def check_decoder_table() -> None:
    """Each malformed case decodes to the answer the table gives (as a server reads)."""
    for number, case in enumerate(checks.malformed_cases()):
        call_id = 1000 + number
        try:
            message = wire.decode(case.frames(call_id))
        except wire.WireError as error:
            if case.code is None:
                expect(error.call_id is None, f"{case.name}: identified, should be dropped")
            else:
                expect(
                    (error.call_id, error.code) == (call_id, case.code),
                    f"{case.name}: {error.code!r} for call {error.call_id}, want {case.code!r}",
                )
                expect(error.message.startswith(case.message_prefix), f"{case.name}: {error}")
            continue
        expect(
            isinstance(message, wire.Response) and case.code == Code.INVALID_ARGUMENT,
            f"{case.name}: decoded as {message}",
        )


def _response(call_id: int, **fields: object) -> bytes:
    defaults: dict[str, object] = {"kind": 2, "service": b"", "method": b"", "timeout_ns": 0}
    defaults.update(fields)
    return raw_header(call_id, **defaults)  # type: ignore[arg-type]


Script = Callable[[int], list[list[bytes]]]

# What the scripted server sends back for each method name: a list of messages.
SCRIPTS: dict[str, Script] = {
    "ok": lambda i: [[_response(i, payload_len=2), b"ok"]],
    "version-2": lambda i: [[_response(i, version=2), b""]],
    "header-39-bytes": lambda i: [[_response(i)[:39], b""]],
    "kind-3": lambda i: [[_response(i, kind=3), b""]],
    "message-len-65536": lambda i: [[_response(i, message_len=65536), b""]],
    "header-too-long": lambda i: [[_response(i) + b"x", b""]],
    "payload-over-limit": lambda i: [[_response(i, payload_len=wire.DEFAULT_PAYLOAD_LIMIT + 1)]],
    "payload-mismatch": lambda i: [[_response(i, payload_len=3), b"ok"]],
    "one-frame": lambda i: [[_response(i)]],
    "three-frames": lambda i: [[_response(i), b"", b""]],
    "response-with-name": lambda i: [[_response(i, service=b"s"), b""]],
    "response-with-timeout": lambda i: [[_response(i, timeout_ns=-1), b""]],
    "code-17": lambda i: [[_response(i, code=17), b""]],
    "error-with-payload": lambda i: [[_response(i, code=13, payload_len=1), b"x"]],
    "request-back": lambda i: [[raw_header(i), b""]],
    "wrong-magic": lambda i: [[b"JNWX" + _response(i)[4:], b""]],
    "header-15-bytes": lambda i: [[_response(i)[:15], b""]],
    "other-id-first": lambda i: [[_response(i + 1000), b""], [_response(i, payload_len=2), b"ok"]],
    "long-message": lambda i: [[wire.encode_response(i, Code.NOT_FOUND, "\u00e9" * 40000), b""]],
    "silent": lambda i: [],
}
LATE_SECONDS = 0.3


class ScriptedServer:
    """A ROUTER answering each request as SCRIPTS says for its method; "late-*" after 0.3 s."""

    def __init__(self) -> None:
        self.socket = zmq.Context.instance().socket(zmq.ROUTER)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.bind("tcp://127.0.0.1:*")
        self.url = "zmq+" + self.socket.getsockopt_string(zmq.LAST_ENDPOINT)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop answering and close the socket, dropping its connections."""
        self._stop.set()
        self._thread.join(checks.CALL_TIMEOUT)

    def _run(self) -> None:
        later: list[tuple[float, list[bytes]]] = []
        try:
            while not self._stop.is_set():
                if self.socket.poll(10):
                    routing_id, *frames = self.socket.recv_multipart()
                    request = wire.decode(frames)
                    assert isinstance(request, wire.Request)
                    method = request.method
                    due = time.monotonic()
                    if method.startswith("late-"):
                        method = method[len("late-") :]
                        due += LATE_SECONDS
                    for message in SCRIPTS[method](request.call_id):
                        later.append((due, [routing_id, *message]))
                now = time.monotonic()
                for item in [item for item in later if item[0] <= now]:
                    later.remove(item)
                    self.socket.send_multipart(item[1])
        finally:
            self.socket.close(linger=0)


def check_client_reads(server: ScriptedServer) -> None:
    """The Client's side of the table: what it answers for each broken response."""
    internal = Code.INTERNAL
    expected: list[tuple[str, Code, str]] = [
        ("ok", Code.OK, ""),
        ("version-2", internal, "unsupported wire protocol version 2"),
        ("header-39-bytes", internal, ""),
        ("kind-3", internal, ""),
        ("message-len-65536", internal, ""),
        ("header-too-long", internal, ""),
        ("payload-over-limit", Code.RESOURCE_EXHAUSTED, ""),
        ("payload-mismatch", internal, ""),
        ("one-frame", internal, ""),
        ("three-frames", internal, ""),
        ("response-with-name", internal, ""),
        ("response-with-timeout", internal, ""),
        ("code-17", internal, ""),
        ("error-with-payload", internal, ""),
        ("request-back", internal, ""),
        ("long-message", Code.NOT_FOUND, "\u00e9" * 32767),
    ]
    with checks.connected_client(server.url) as client:
        for method, code, prefix in expected:
            response = client.call("scripted", method, timeout=checks.CALL_TIMEOUT)
            expect(response.code == code, f"{method}: {checks.describe(response)}, want {code!r}")
            expect(response.message.startswith(prefix), f"{method}: {response.message!r:.100}")
            expect(response.ok or response.message != "", f"{method}: no message")
        expect(client.dropped == 0, f"{client.dropped} responses dropped")


def _expect_dropped(client: wire.Client, method: str, timeout: float, drops: int) -> None:
    before = client.dropped
    start = time.monotonic()
    response = client.call("scripted", method, timeout=timeout)
    elapsed = time.monotonic() - start
    expect(
        response.code == Code.DEADLINE_EXCEEDED,
        f"{method}: {checks.describe(response)}, want DEADLINE_EXCEEDED",
    )
    expect(
        timeout <= elapsed <= timeout + checks.DEADLINE_MARGIN,
        f"{method}: answered after {elapsed:.3f} s, deadline {timeout} s",
    )
    give_up = time.monotonic() + 2.0
    while client.dropped < before + drops and time.monotonic() < give_up:
        time.sleep(0.01)
    expect(client.dropped == before + drops, f"{method}: {client.dropped - before} dropped")


def check_client_drops(server: ScriptedServer) -> None:
    """Unidentifiable, foreign and late responses are dropped; the calls keep waiting."""
    with checks.connected_client(server.url) as client:
        _expect_dropped(client, "wrong-magic", 0.1, 1)
        _expect_dropped(client, "header-15-bytes", 0.1, 1)
        _expect_dropped(client, "late-ok", 0.1, 1)
        before = client.dropped
        response = client.call("scripted", "other-id-first", timeout=checks.CALL_TIMEOUT)
        expect(response.ok and response.payload == b"ok", checks.describe(response))
        expect(client.dropped == before + 1, "the answer for another call id was not dropped")


def check_client_timeout_ns() -> None:
    """timeout_ns carries the time left when the request leaves, -1 without a deadline."""
    socket = zmq.Context.instance().socket(zmq.ROUTER)
    socket.setsockopt(zmq.LINGER, 0)
    socket.bind("tcp://127.0.0.1:*")
    url = "zmq+" + socket.getsockopt_string(zmq.LAST_ENDPOINT)
    try:
        with checks.connected_client(url) as client:
            for timeout in (None, 2.0):
                client.start_call("s", "m", b"", timeout=timeout)
                expect(bool(socket.poll(int(checks.CALL_TIMEOUT * 1000))), "no request")
                request = wire.decode(socket.recv_multipart()[1:])
                assert isinstance(request, wire.Request)
                if timeout is None:
                    expect(request.timeout_ns == -1, f"timeout_ns {request.timeout_ns}")
                else:
                    sent = request.timeout_ns / 1e9
                    expect(timeout - 0.1 < sent <= timeout, f"timeout_ns {request.timeout_ns}")
    finally:
        socket.close(linger=0)


def check_client_cancel_reaches_server() -> None:
    """A cancelled call's request is never sent, or is followed by its cancel."""
    socket = zmq.Context.instance().socket(zmq.ROUTER)
    socket.setsockopt(zmq.LINGER, 0)
    socket.bind("tcp://127.0.0.1:*")
    url = "zmq+" + socket.getsockopt_string(zmq.LAST_ENDPOINT)
    rounds = 200
    requested: set[int] = set()
    cancelled: set[int] = set()
    try:
        with checks.connected_client(url) as client:
            for _ in range(rounds):
                call = client.start_call("s", "m", b"")
                expect(client.cancel(call), f"call {call.call_id} not in flight")
                response = call.result(checks.CALL_TIMEOUT)
                expect(response.code == Code.CANCELLED, checks.describe(response))
            # Everything the client sent, until it has been quiet a while.
            while socket.poll(300):
                message = wire.decode(socket.recv_multipart()[1:])
                if isinstance(message, wire.Request):
                    requested.add(message.call_id)
                elif isinstance(message, wire.Cancel):
                    expect(message.call_id in requested, f"cancel {message.call_id} first")
                    cancelled.add(message.call_id)
    finally:
        socket.close(linger=0)
    uncancelled = sorted(requested - cancelled)
    expect(
        not uncancelled,
        f"{len(uncancelled)} of {rounds} cancelled calls sent without a cancel: {uncancelled[:5]}",
    )


def check_server_cancels_a_waiting_call() -> None:
    """A cancel of a call still waiting for the Server's one thread answers it
    CANCELLED without running its handler."""
    holding = threading.Event()
    ran: list[bytes] = []

    def hold(payload: bytes, deadline: object) -> bytes:
        holding.wait(checks.CALL_TIMEOUT)
        return payload

    def record(payload: bytes, deadline: object) -> bytes:
        ran.append(payload)
        return payload

    server = wire.Server(
        ["zmq+tcp://127.0.0.1:0"], {"s": {"hold": hold, "record": record}}, threads=1
    )
    server.start()
    peer = zmq.Context.instance().socket(zmq.DEALER)
    peer.setsockopt(zmq.LINGER, 0)
    try:
        peer.connect(server.urls[0][len("zmq+") :])
        peer.send_multipart([wire.encode_request(20, "s", "hold", 0), b""])
        peer.send_multipart([wire.encode_request(21, "s", "record", 1), b"x"])
        peer.send_multipart([raw_header(21, kind=3, service=b"", method=b"", timeout_ns=0), b""])
        # Answered by the server's own thread, once it has read everything
        # before it on this connection, the cancel included.
        peer.send_multipart([raw_header(22, version=2), b""])
        expect(bool(peer.poll(int(checks.CALL_TIMEOUT * 1000))), "no answer to the version-2 frame")
        refused = wire.decode(peer.recv_multipart())
        assert isinstance(refused, wire.Response)
        expect(refused.call_id == 22, f"answered {refused.call_id} first, while 20 holds")
        holding.set()
        answers = {}
        for _ in range(2):
            expect(bool(peer.poll(int(checks.CALL_TIMEOUT * 1000))), f"answers so far {answers}")
            answer = wire.decode(peer.recv_multipart())
            assert isinstance(answer, wire.Response)
            answers[answer.call_id] = answer.code
        expect(answers == {20: Code.OK, 21: Code.CANCELLED}, f"answers {answers}")
        expect(not ran, f"the cancelled call's handler ran with {ran}")
    finally:
        holding.set()
        peer.close(linger=0)
        server.close(drain_timeout=checks.CALL_TIMEOUT)


def check_fixture_server_keeps_its_drain_timeout(directory: str) -> None:
    """fixture_server.py exits at its drain timeout, 1, with a call still running."""
    command = [sys.executable, os.path.join(HERE, "fixture_server.py"), "--drain-timeout", "0.5",
               "--listen", "zmq+ipc://" + os.path.join(directory, "cut.sock")]
    server = checks.ServerProcess(command)
    try:
        url = server.wait_ready()[0]
        with checks.connected_client(url) as client:
            call = client.start_call("fixture", "sleep", checks.sleep_request(6000))
            expect(server.wait_stderr("fixture: sleep 6000 ms", checks.CALL_TIMEOUT), "never ran")
            start = time.monotonic()
            server.process.send_signal(signal.SIGTERM)
            status = server.process.wait(timeout=checks.CALL_TIMEOUT)
            elapsed = time.monotonic() - start
            expect(status == 1, f"exit status {status}, want 1 (cut short)")
            expect(elapsed < 4.0, f"exited {elapsed:.2f} s after SIGTERM, drain timeout 0.5 s")
            client.cancel(call)
    finally:
        server.kill()


def check_client_connection_drop(server: ScriptedServer) -> None:
    """A call whose connection drops is answered UNAVAILABLE before its deadline."""
    with checks.connected_client(server.url) as client:
        call = client.start_call("scripted", "silent", timeout=checks.CALL_TIMEOUT)
        time.sleep(0.1)
        start = time.monotonic()
        server.close()
        response = call.result(checks.CALL_TIMEOUT)
        elapsed = time.monotonic() - start
    expect(response.code == Code.UNAVAILABLE, checks.describe(response))
    expect(elapsed < 1.0, f"UNAVAILABLE {elapsed:.2f} s after the server closed")


def main() -> int:
    """Run the checks; the exit status."""
    started = time.monotonic()
    report = checks.Report()
    report.run("codec: the doc's example request", check_doc_example)
    report.run("codec: status message cut at 65535 bytes", check_message_cut)
    report.run("codec: encoders refuse malformed frames", check_encoder_refusals)
    report.run("codec: the malformed cases decode per the table", check_decoder_table)

    scripted = ScriptedServer()
    report.run("client: broken responses -> INTERNAL", check_client_reads, scripted)
    report.run("client: drops unidentifiable, foreign, late", check_client_drops, scripted)
    report.run("client: timeout_ns sent", check_client_timeout_ns)
    report.run("client: a cancelled call's server is told", check_client_cancel_reaches_server)
    report.run("server: a cancel answers a waiting call unrun", check_server_cancels_a_waiting_call)
    report.run("client: dropped connection -> UNAVAILABLE", check_client_connection_drop, scripted)

    with tempfile.TemporaryDirectory(prefix="junction-wire-") as directory:
        command = [sys.executable, os.path.join(HERE, "fixture_server.py")]
        checks.run_server_process_checks(report, command, directory, "server ", WATCHDOG_SECONDS)
        report.run(
            "server: the fixture exits at its drain timeout",
            check_fixture_server_keeps_its_drain_timeout,
            directory,
        )
    return report.summary(started)


if __name__ == "__main__":
    sys.exit(main())
