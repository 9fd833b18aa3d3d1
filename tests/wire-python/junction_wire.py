"""junction's wire protocol, version 1, in Python over pyzmq.

Written from docs/wire.md alone, to show that the document suffices for a peer
in another language. It holds:

- a codec for header frames (``encode_request``, ``encode_response``,
  ``decode``) that applies every rule of the document's "What a receiver does
  with a message it cannot read" table, in the table's order;
- ``Client``: one ZeroMQ DEALER connection carrying any number of concurrent
  calls, from any number of threads, matched by call id;
- ``Server`` and ``serve``: Python handlers served on ZeroMQ ROUTER sockets.

URLs are junction's: ``zmq+tcp://HOST:PORT``, ``zmq+ipc:///PATH`` and
``zmq+inproc://NAME``. Times given to this module are in seconds, on the
``time.monotonic`` clock where they are instants.
"""

from __future__ import annotations

import enum
import heapq
import math
import os
import struct
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Mapping, Optional, Sequence, Union

import zmq
from zmq.utils.monitor import parse_monitor_message

MAGIC = b"JNWF"
VERSION = 1
KIND_REQUEST = 1
KIND_RESPONSE = 2
KIND_CANCEL = 3
HEADER_SIZE = 40
IDENTITY_SIZE = 16
MAX_NAME_LEN = 255
MAX_MESSAGE_LEN = 65535
MAX_HEADER_FRAME = HEADER_SIZE + 2 * MAX_NAME_LEN + MAX_MESSAGE_LEN
DEFAULT_PAYLOAD_LIMIT = 64 * 1024 * 1024
NO_TIMEOUT = -1
TIMEOUT_OFFSET = 16

# magic, version, kind, service_len, method_len, call_id, timeout_ns, code, message_len,
# payload_len: the 40 fixed bytes of every header frame.
_FIXED = struct.Struct("<4sBBBBQqiIQ")
_IDENTITY = struct.Struct("<4sBBBBQ")
_TIMEOUT = struct.Struct("<q")
_U64_MAX = 2**64 - 1

HEARTBEAT_INTERVAL_MS = 1000
HEARTBEAT_TIMEOUT_MS = 5000
RECONNECT_INTERVAL_MS = 100
RECONNECT_INTERVAL_MAX_MS = 1000
# A server sends no heartbeats (docs/wire.md, "Heartbeats"): TCP keepalive
# reaps the connections of clients whose host vanished.
SERVER_KEEPALIVE = (
    (zmq.TCP_KEEPALIVE, 1),
    (zmq.TCP_KEEPALIVE_IDLE, 30),
    (zmq.TCP_KEEPALIVE_INTVL, 5),
    (zmq.TCP_KEEPALIVE_CNT, 6),
)


class Code(enum.IntEnum):
    """junction's status codes, which are gRPC's."""

    OK = 0
    CANCELLED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    OUT_OF_RANGE = 11
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    DATA_LOSS = 15
    UNAUTHENTICATED = 16


def code_name(code: int) -> str:
    """The name of a status code, or ``"code N"`` for a number outside 0..16."""
    try:
        return Code(code).name
    except ValueError:
        return f"code {code}"


@dataclass(frozen=True)
class Request:
    """A decoded request message.

    Names are decoded from UTF-8 with ``surrogateescape``, so that a name that
    is not valid UTF-8 still round-trips to its bytes: receivers compare names
    as bytes and do not check UTF-8 (a name that is not is simply not found).
    """

    call_id: int
    service: str
    method: str
    timeout_ns: int
    payload: bytes


@dataclass(frozen=True)
class Response:
    """A decoded response message, or the answer a client gives its caller.

    ``message`` is decoded from UTF-8, invalid sequences replaced. A response
    whose code is not OK has an empty payload.
    """

    call_id: int
    code: Code
    message: str
    payload: bytes

    @property
    def ok(self) -> bool:
        """Whether the call succeeded."""
        return self.code == Code.OK


@dataclass(frozen=True)
class Cancel:
    """A decoded cancel message: its client stopped waiting for the call."""

    call_id: int


class WireError(Exception):
    """A message its receiver cannot read.

    ``call_id`` is None when the message cannot be identified (no 16 bytes of
    header or a wrong magic): such a message is dropped. Otherwise ``code``
    and ``message`` are the answer the document prescribes and ``kind`` is the
    header's kind byte as received.
    """

    def __init__(
        self,
        message: str,
        code: Optional[Code] = None,
        call_id: Optional[int] = None,
        kind: Optional[int] = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.call_id = call_id
        self.kind = kind


class Status(Exception):
    """A handler's non-OK answer: raise it to answer ``code`` with ``message``."""

    def __init__(self, code: int, message: str = "") -> None:
        if not Code.CANCELLED <= code <= Code.UNAUTHENTICATED:
            raise ValueError(f"a Status carries a code in 1..16, not {code}")
        super().__init__(message)
        self.code = Code(code)
        self.message = message


def frame_limit(payload_limit: int) -> int:
    """The ``ZMQ_MAXMSGSIZE`` a peer with this payload limit sets."""
    return max(payload_limit, MAX_HEADER_FRAME)


def cut_message(message: str) -> bytes:
    """``message`` as UTF-8, cut at a character boundary to at most 65535 bytes."""
    data = message.encode("utf-8", "replace")
    if len(data) <= MAX_MESSAGE_LEN:
        return data
    end = MAX_MESSAGE_LEN
    while end > 0 and data[end] & 0xC0 == 0x80:
        end -= 1
    return data[:end]


def _name_bytes(name: Union[str, bytes], what: str) -> bytes:
    data = name.encode("utf-8") if isinstance(name, str) else bytes(name)
    if not 1 <= len(data) <= MAX_NAME_LEN:
        raise ValueError(f"a {what} name is 1 to 255 bytes, not {len(data)}")
    if b"\0" in data:
        raise ValueError(f"a {what} name has no NUL byte")
    return data


def _check_u64(value: int, what: str) -> None:
    if not 0 <= value <= _U64_MAX:
        raise ValueError(f"{what} is an unsigned 64-bit integer, not {value}")


def encode_request(
    call_id: int,
    service: Union[str, bytes],
    method: Union[str, bytes],
    payload_len: int,
    timeout_ns: int = NO_TIMEOUT,
) -> bytes:
    """The header frame of a request.

    Raises ValueError for anything the protocol does not allow: a name that is
    empty, longer than 255 bytes or holds a NUL byte, a timeout below -1, a
    call id or payload length outside the unsigned 64-bit range.
    """
    service_bytes = _name_bytes(service, "service")
    method_bytes = _name_bytes(method, "method")
    _check_u64(call_id, "call_id")
    _check_u64(payload_len, "payload_len")
    if not -1 <= timeout_ns < 2**63:
        raise ValueError(f"timeout_ns is -1 (none) or 0..2**63-1, not {timeout_ns}")
    fixed = _FIXED.pack(
        MAGIC,
        VERSION,
        KIND_REQUEST,
        len(service_bytes),
        len(method_bytes),
        call_id,
        timeout_ns,
        0,
        0,
        payload_len,
    )
    return fixed + service_bytes + method_bytes


def encode_response(call_id: int, code: int, message: str = "", payload_len: int = 0) -> bytes:
    """The header frame of a response.

    ``message`` is cut to 65535 bytes at a UTF-8 character boundary. Raises
    ValueError for a code outside 0..16 or a payload with a code other than OK.
    """
    _check_u64(call_id, "call_id")
    _check_u64(payload_len, "payload_len")
    if not Code.OK <= code <= Code.UNAUTHENTICATED:
        raise ValueError(f"a status code is in 0..16, not {code}")
    if code != Code.OK and payload_len != 0:
        raise ValueError("a response with a code other than OK has an empty payload")
    message_bytes = cut_message(message)
    fixed = _FIXED.pack(
        MAGIC, VERSION, KIND_RESPONSE, 0, 0, call_id, 0, code, len(message_bytes), payload_len
    )
    return fixed + message_bytes


def encode_cancel(call_id: int) -> bytes:
    """The header frame of a cancel: the call id, every other field 0."""
    _check_u64(call_id, "call_id")
    return _FIXED.pack(MAGIC, VERSION, KIND_CANCEL, 0, 0, call_id, 0, 0, 0, 0)


def decode(
    frames: Sequence[bytes], payload_limit: int = DEFAULT_PAYLOAD_LIMIT
) -> Union[Request, Response, Cancel]:
    """Read one message (its frames without any ZeroMQ routing id).

    Applies the document's checks in its order and raises WireError at the
    first failure. Every kind is returned as read: a receiver that expects
    another kind decides what to do with it.
    """
    header = frames[0] if frames else b""
    if len(header) < 4 or header[:4] != MAGIC:
        raise WireError("not a junction message (fewer than 4 bytes or a wrong magic)")
    if len(header) < IDENTITY_SIZE:
        raise WireError(f"header frame of {len(header)} bytes cannot identify a call")
    _, version, kind, service_len, method_len, call_id = _IDENTITY.unpack_from(header)

    def error(code: Code, message: str) -> WireError:
        return WireError(message, code, call_id, kind)

    if version != VERSION:
        raise error(
            Code.FAILED_PRECONDITION,
            f"unsupported wire protocol version {version} (this peer speaks version {VERSION})",
        )
    if len(header) < HEADER_SIZE:
        raise error(Code.INVALID_ARGUMENT, f"header frame of {len(header)} bytes, fewer than 40")
    _, _, _, _, _, _, timeout_ns, code, message_len, payload_len = _FIXED.unpack_from(header)
    if kind not in (KIND_REQUEST, KIND_RESPONSE, KIND_CANCEL):
        raise error(Code.INVALID_ARGUMENT, f"unknown message kind {kind}")
    if message_len > MAX_MESSAGE_LEN:
        raise error(Code.INVALID_ARGUMENT, f"status message of {message_len} bytes, over 65535")
    names_end = HEADER_SIZE + service_len + method_len
    if len(header) != names_end + message_len:
        raise error(
            Code.INVALID_ARGUMENT,
            f"header frame of {len(header)} bytes, its lengths add up to {names_end + message_len}",
        )
    if payload_len > payload_limit:
        raise error(
            Code.RESOURCE_EXHAUSTED,
            f"payload of {payload_len} bytes, over this peer's limit of {payload_limit}",
        )
    if len(frames) != 2:
        raise error(Code.INVALID_ARGUMENT, f"a message is 2 frames, got {len(frames)}")
    payload = frames[1]
    if len(payload) != payload_len:
        raise error(
            Code.INVALID_ARGUMENT,
            f"header declares a payload of {payload_len} bytes, the payload frame has "
            f"{len(payload)}",
        )
    service = header[HEADER_SIZE : HEADER_SIZE + service_len]
    method = header[HEADER_SIZE + service_len : names_end]
    if kind == KIND_REQUEST:
        if not service or not method or b"\0" in service or b"\0" in method:
            raise error(Code.INVALID_ARGUMENT, "request with an empty name or a NUL in a name")
        if timeout_ns < NO_TIMEOUT:
            raise error(Code.INVALID_ARGUMENT, f"request with timeout_ns {timeout_ns}, below -1")
        if code != 0 or message_len != 0:
            raise error(Code.INVALID_ARGUMENT, "request with a status code or message")
        return Request(
            call_id,
            service.decode("utf-8", "surrogateescape"),
            method.decode("utf-8", "surrogateescape"),
            timeout_ns,
            payload,
        )
    if kind == KIND_CANCEL:
        named = service or method
        if named or timeout_ns != 0 or code != 0 or message_len != 0 or payload_len != 0:
            raise error(
                Code.INVALID_ARGUMENT,
                "cancel with a name, a timeout, a status code, a message or a payload",
            )
        return Cancel(call_id)
    if service or method:
        raise error(Code.INVALID_ARGUMENT, "response with a service or method name")
    if timeout_ns != 0:
        raise error(Code.INVALID_ARGUMENT, f"response with timeout_ns {timeout_ns}")
    if not Code.OK <= code <= Code.UNAUTHENTICATED:
        raise error(Code.INVALID_ARGUMENT, f"response with status code {code}, outside 0..16")
    if code != Code.OK and payload_len != 0:
        raise error(Code.INVALID_ARGUMENT, "response with a payload and a code other than OK")
    return Response(call_id, Code(code), header[names_end:].decode("utf-8", "replace"), payload)


def zmq_endpoint(url: str) -> str:
    """The ZeroMQ endpoint of a junction URL (``zmq+tcp://...`` to ``tcp://...``)."""
    for scheme in ("tcp", "ipc", "inproc"):
        prefix = f"zmq+{scheme}://"
        if url.startswith(prefix):
            return f"{scheme}://{url[len(prefix):]}"
    raise ValueError(f"not a junction ZeroMQ URL: {url!r}")


def _configure(socket: zmq.Socket, payload_limit: int, endpoint: str) -> None:
    socket.setsockopt(zmq.LINGER, 0)
    socket.setsockopt(zmq.MAXMSGSIZE, frame_limit(payload_limit))
    if endpoint.startswith("tcp://["):
        socket.setsockopt(zmq.IPV6, 1)


class _Waker:
    """A pipe that wakes a thread blocked in zmq polling; writable from any thread."""

    def __init__(self) -> None:
        self.fd, self._write_fd = os.pipe()
        os.set_blocking(self.fd, False)
        os.set_blocking(self._write_fd, False)

    def wake(self) -> None:
        try:
            os.write(self._write_fd, b"\0")
        except BlockingIOError:
            pass  # the pipe is full, so its reader is woken anyway

    def drain(self) -> None:
        try:
            while os.read(self.fd, 4096):
                pass
        except BlockingIOError:
            pass

    def close(self) -> None:
        os.close(self.fd)
        os.close(self._write_fd)


class PendingCall:
    """A call in flight: its answer comes once, from the server or from the client itself.

    ``completed_at`` is the ``time.monotonic`` instant the answer came, None before.
    """

    def __init__(self, call_id: int, deadline: Optional[float]) -> None:
        self.call_id = call_id
        self.deadline = deadline
        self.completed_at: Optional[float] = None
        self._done = threading.Event()
        self._response: Optional[Response] = None

    def _complete(self, response: Response) -> None:
        self._response = response
        self.completed_at = time.monotonic()
        self._done.set()

    def result(self, timeout: Optional[float] = None) -> Response:
        """The answer, waiting at most ``timeout`` seconds (None: until it comes).

        A call with a deadline is always answered by its deadline (give or take
        the client thread's scheduling); raises TimeoutError when ``timeout``
        runs out first.
        """
        if not self._done.wait(timeout):
            raise TimeoutError(f"call {self.call_id} not answered within {timeout} s")
        assert self._response is not None
        return self._response


@dataclass
class _Outgoing:
    call: PendingCall
    header: bytearray
    payload: bytes


class Client:
    """A junction client: one DEALER connection to one URL, shared by every call.

    Contract:

    - ``call`` and ``start_call`` may be used from any number of threads at
      once; each call gets a call id unique among the calls in flight (a
      counter) and only the answer carrying that id.
    - A call with a deadline sends, as ``timeout_ns``, the time left until it
      when the request leaves, and is answered DEADLINE_EXCEEDED when it
      passes, whatever the server does; an answer that comes later, like any
      answer for a call id not in flight, is dropped and counted in
      ``dropped``. A deadline already passed when the request would leave
      answers DEADLINE_EXCEEDED without sending.
    - A response that cannot be read but names a call in flight answers it
      INTERNAL with the reason, or RESOURCE_EXHAUSTED when its payload is over
      ``payload_limit``; an unidentifiable one is dropped.
    - Requests are sent only while the connection is up (after its ZMTP
      handshake): otherwise a call is answered UNAVAILABLE at once. When the
      connection drops, the calls sent on it are answered UNAVAILABLE (they may
      have run). ZeroMQ reconnects by itself (every 100 ms, backing off to one
      second); ZMTP heartbeats every second drop a connection silent for five.
    - ``cancel`` answers a call in flight CANCELLED at once and, if its
      request was sent, sends the server a cancel message for it; the
      server's answer, should it come, is dropped.
    - ``close`` answers the calls still in flight CANCELLED.
    - With ``curve_server_key`` (the server's public key, Z85 text) the
      connection uses CURVE (docs/wire.md, "CURVE"), with
      ``curve_key_pair`` (public, secret; Z85) as the client's keys, or a
      pair made for it. A server that refuses the key or does not agree on
      CURVE never completes the handshake: calls answer UNAVAILABLE.

    A background thread owns the socket; callers never touch it.
    """

    def __init__(
        self,
        url: str,
        *,
        payload_limit: int = DEFAULT_PAYLOAD_LIMIT,
        context: Optional[zmq.Context] = None,
        curve_server_key: Optional[str] = None,
        curve_key_pair: Optional[tuple[str, str]] = None,
    ) -> None:
        self.url = url
        self.payload_limit = payload_limit
        self._endpoint = zmq_endpoint(url)
        self._context = context or zmq.Context.instance()
        self._lock = threading.Lock()
        self._next_id = 1
        self._in_flight: dict[int, PendingCall] = {}
        self._sent: set[int] = set()
        self._outgoing: deque[_Outgoing] = deque()
        self._cancels: deque[int] = deque()  # call ids whose cancel is to be sent
        self._deadlines: list[tuple[float, int]] = []
        self._connected = threading.Event()
        self._closing = False
        self._dropped = 0
        self._socket = self._context.socket(zmq.DEALER)
        self._monitor = self._socket.get_monitor_socket(
            zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_DISCONNECTED
        )
        try:
            _configure(self._socket, payload_limit, self._endpoint)
            self._socket.setsockopt(zmq.RECONNECT_IVL, RECONNECT_INTERVAL_MS)
            self._socket.setsockopt(zmq.RECONNECT_IVL_MAX, RECONNECT_INTERVAL_MAX_MS)
            self._socket.setsockopt(zmq.HEARTBEAT_IVL, HEARTBEAT_INTERVAL_MS)
            self._socket.setsockopt(zmq.HEARTBEAT_TIMEOUT, HEARTBEAT_TIMEOUT_MS)
            if curve_server_key is not None:
                public, secret = curve_key_pair or tuple(
                    key.decode() for key in zmq.curve_keypair()
                )
                self._socket.setsockopt(zmq.CURVE_SERVERKEY, curve_server_key.encode())
                self._socket.setsockopt(zmq.CURVE_PUBLICKEY, public.encode())
                self._socket.setsockopt(zmq.CURVE_SECRETKEY, secret.encode())
            self._socket.connect(self._endpoint)
        except zmq.ZMQError:
            self._close_sockets()
            raise
        self._waker = _Waker()
        self._thread = threading.Thread(target=self._run, name=f"junction-client {url}")
        self._thread.daemon = True
        self._thread.start()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def dropped(self) -> int:
        """How many received messages were dropped: late, unknown or unidentifiable."""
        with self._lock:
            return self._dropped

    def wait_connected(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the connection to be up; whether it is."""
        return self._connected.wait(timeout)

    def start_call(
        self,
        service: Union[str, bytes],
        method: Union[str, bytes],
        payload: bytes = b"",
        timeout: Optional[float] = None,
    ) -> PendingCall:
        """Send a call and return at once; ``timeout`` in seconds from now, None for none.

        Raises ValueError for names the protocol does not allow, and
        RuntimeError once the client is closed.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        payload = bytes(payload)
        with self._lock:
            if self._closing:
                raise RuntimeError("the client is closed")
            call_id = self._next_id
            self._next_id += 1
            header = bytearray(encode_request(call_id, service, method, len(payload)))
            call = PendingCall(call_id, deadline)
            self._in_flight[call_id] = call
            self._outgoing.append(_Outgoing(call, header, payload))
        self._waker.wake()
        return call

    def call(
        self,
        service: Union[str, bytes],
        method: Union[str, bytes],
        payload: bytes = b"",
        timeout: Optional[float] = None,
    ) -> Response:
        """Make a call and wait for its answer; ``timeout`` in seconds, None for none."""
        return self.start_call(service, method, payload, timeout).result()

    def sent(self, call: PendingCall) -> bool:
        """Whether ``call``'s request has left and its answer is awaited (a
        cancel of it now tells its server)."""
        with self._lock:
            return call.call_id in self._sent

    def cancel(self, call: PendingCall) -> bool:
        """Stop waiting for ``call``: answered CANCELLED now, its server told.

        Returns whether the call was still in flight (False: it had its
        answer already, and nothing changes).
        """
        # Taken out of flight and judged sent in one step: a call not yet
        # listed as sent is then either never sent or followed at once by
        # its cancel (_send_outgoing).
        with self._lock:
            taken = self._in_flight.pop(call.call_id, None)
            sent = call.call_id in self._sent
            self._sent.discard(call.call_id)
            if taken is not None and sent:
                self._cancels.append(call.call_id)
        if taken is None:
            return False
        taken._complete(Response(call.call_id, Code.CANCELLED, "call cancelled by its caller", b""))
        if sent:
            self._waker.wake()
        return True

    def close(self) -> None:
        """Stop the client: calls in flight are answered CANCELLED. Idempotent."""
        with self._lock:
            if self._closing:
                return
            self._closing = True
        self._waker.wake()
        self._thread.join()
        self._waker.close()

    def _finish(self, call_id: int, code: Code, message: str, payload: bytes = b"") -> bool:
        with self._lock:
            call = self._in_flight.pop(call_id, None)
            self._sent.discard(call_id)
        if call is None:
            return False
        call._complete(Response(call_id, code, message, payload))
        return True

    def _drop(self) -> None:
        with self._lock:
            self._dropped += 1

    def _close_sockets(self) -> None:
        self._socket.disable_monitor()
        self._monitor.close(linger=0)
        self._socket.close(linger=0)

    def _run(self) -> None:
        socket, monitor = self._socket, self._monitor
        poller = zmq.Poller()
        poller.register(socket, zmq.POLLIN)
        poller.register(monitor, zmq.POLLIN)
        poller.register(self._waker.fd, zmq.POLLIN)
        try:
            while True:
                events = dict(poller.poll(self._poll_timeout_ms()))
                if monitor in events:
                    self._on_monitor(monitor, socket)
                if socket in events:
                    self._receive(socket)
                if self._waker.fd in events:
                    self._waker.drain()
                with self._lock:
                    closing = self._closing
                if closing:
                    break
                self._send_outgoing(socket)
                self._expire()
        finally:
            self._close_sockets()
            self._connected.clear()
            with self._lock:
                remaining = list(self._in_flight)
            for call_id in remaining:
                self._finish(call_id, Code.CANCELLED, "the client was closed")

    def _poll_timeout_ms(self) -> Optional[int]:
        if not self._deadlines:
            return None
        return max(0, math.ceil((self._deadlines[0][0] - time.monotonic()) * 1000))

    def _on_monitor(self, monitor: zmq.Socket, socket: zmq.Socket) -> None:
        while monitor.poll(0):
            event = parse_monitor_message(monitor.recv_multipart())["event"]
            if event == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                self._connected.set()
            elif event == zmq.EVENT_DISCONNECTED:
                self._receive(socket)
                self._connected.clear()
                with self._lock:
                    lost = list(self._sent)
                for call_id in lost:
                    self._finish(call_id, Code.UNAVAILABLE, f"the connection to {self.url} dropped")

    def _receive(self, socket: zmq.Socket) -> None:
        while True:
            try:
                frames = socket.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            self._on_message(frames)

    def _on_message(self, frames: list[bytes]) -> None:
        try:
            message = decode(frames, self.payload_limit)
        except WireError as error:
            if error.call_id is None:
                self._drop()
                return
            code = Code.INTERNAL
            if error.code == Code.RESOURCE_EXHAUSTED:
                code = Code.RESOURCE_EXHAUSTED
            answered = self._finish(error.call_id, code, error.message)
        else:
            if isinstance(message, Request):
                answered = self._finish(
                    message.call_id, Code.INTERNAL, "expected a response, got a request"
                )
            elif isinstance(message, Cancel):
                answered = self._finish(
                    message.call_id, Code.INTERNAL, "expected a response, got a cancel"
                )
            else:
                answered = self._finish(
                    message.call_id, message.code, message.message, message.payload
                )
        if not answered:
            self._drop()

    def _send_outgoing(self, socket: zmq.Socket) -> None:
        while True:
            with self._lock:
                if not self._cancels:
                    break
                call_id = self._cancels.popleft()
            if self._connected.is_set():
                try:
                    socket.send_multipart([encode_cancel(call_id), b""], zmq.NOBLOCK)
                except zmq.Again:
                    pass  # a hint: the call runs to its end at the server, answer dropped
        while True:
            with self._lock:
                if not self._outgoing:
                    return
                item = self._outgoing.popleft()
                if item.call.call_id not in self._in_flight:
                    continue  # cancelled before it left: never sent
            call = item.call
            timeout_ns = NO_TIMEOUT
            if call.deadline is not None:
                timeout_ns = min(int((call.deadline - time.monotonic()) * 1e9), 2**63 - 1)
                if timeout_ns <= 0:
                    self._finish(call.call_id, Code.DEADLINE_EXCEEDED, "deadline exceeded")
                    continue
            if not self._connected.is_set():
                self._finish(call.call_id, Code.UNAVAILABLE, f"not connected to {self.url}")
                continue
            _TIMEOUT.pack_into(item.header, TIMEOUT_OFFSET, timeout_ns)
            try:
                socket.send_multipart([item.header, item.payload], zmq.NOBLOCK)
            except zmq.Again:
                self._finish(
                    call.call_id, Code.UNAVAILABLE, f"the connection to {self.url} is full"
                )
                continue
            with self._lock:
                in_flight = call.call_id in self._in_flight
                if in_flight:
                    self._sent.add(call.call_id)
            if not in_flight:
                # Cancelled while it was being sent: its server is told now.
                try:
                    socket.send_multipart([encode_cancel(call.call_id), b""], zmq.NOBLOCK)
                except zmq.Again:
                    pass  # a hint, as above
                continue
            if call.deadline is not None:
                heapq.heappush(self._deadlines, (call.deadline, call.call_id))

    def _expire(self) -> None:
        now = time.monotonic()
        while self._deadlines and self._deadlines[0][0] <= now:
            _, call_id = heapq.heappop(self._deadlines)
            self._finish(call_id, Code.DEADLINE_EXCEEDED, "deadline exceeded")


Handler = Callable[[bytes, Optional[float]], bytes]
"""A method: ``handler(request, deadline)`` returns the response bytes.

``deadline`` is a ``time.monotonic`` instant, or None for no deadline. A
handler answers a non-OK status by raising Status; any other exception
answers INTERNAL with its description.
"""


@dataclass
class _Listener:
    url: str
    socket: zmq.Socket


class Server:
    """Serves Python handlers over junction's wire, one ROUTER socket per URL.

    ``services`` maps a service name to its methods (method name to Handler).
    Contract:

    - each URL is bound when the Server is made (``zmq+tcp`` port 0: one the
      system picks); ``urls`` holds the addresses bound;
    - a request is read per the document's table; one that cannot be read but
      identifies its call is answered with the table's code (a well-formed
      response sent to the server: INVALID_ARGUMENT), others are dropped;
    - a known method runs on a pool of ``threads`` threads, answered
      DEADLINE_EXCEEDED instead when its timeout ran out before it starts; an
      unknown service or method is answered NOT_FOUND;
    - a cancel of a call still waiting for a thread answers it CANCELLED
      without running its handler; a running handler is not stopped;
    - answers to a client that does not read them queue without bound (this
      peer does not refuse such a client's calls, as junction's listener
      does: the document's "Unread answers");
    - ``close`` answers new requests UNAVAILABLE while the calls running
      finish, for at most ``drain_timeout`` seconds, then closes the sockets
      (a handler still running then is left to end on its own).
    """

    def __init__(
        self,
        urls: Sequence[str],
        services: Mapping[str, Mapping[str, Handler]],
        *,
        threads: int = 4,
        payload_limit: int = DEFAULT_PAYLOAD_LIMIT,
        context: Optional[zmq.Context] = None,
    ) -> None:
        self._services = services
        self.payload_limit = payload_limit
        self._context = context or zmq.Context.instance()
        self._listeners: list[_Listener] = []
        try:
            for url in urls:
                self._listeners.append(self._bind(url))
        except (zmq.ZMQError, ValueError):
            for listener in self._listeners:
                listener.socket.close(linger=0)
            raise
        self.urls = [listener.url for listener in self._listeners]
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="junction-server")
        self._lock = threading.Lock()
        self._answers: deque[tuple[zmq.Socket, bytes, Response]] = deque()
        # Calls waiting for a pool thread, by (socket, routing id, call id):
        # whether a cancel came for them.
        self._waiting: dict[tuple[int, bytes, int], bool] = {}
        self._in_flight = 0
        self._drain_deadline: Optional[float] = None
        self._drained = True
        self._waker = _Waker()
        self._thread = threading.Thread(target=self._run, name="junction-server")
        self._thread.daemon = True

    def _bind(self, url: str) -> _Listener:
        endpoint = zmq_endpoint(url)
        if endpoint.startswith("tcp://") and endpoint.endswith(":0"):
            endpoint = endpoint[:-1] + "*"
        socket = self._context.socket(zmq.ROUTER)
        try:
            _configure(socket, self.payload_limit, endpoint)
            socket.setsockopt(zmq.SNDHWM, 0)  # answers are queued, never dropped
            for option, value in SERVER_KEEPALIVE:
                socket.setsockopt(option, value)
            socket.bind(endpoint)
        except zmq.ZMQError:
            socket.close(linger=0)
            raise
        return _Listener(f"zmq+{socket.getsockopt_string(zmq.LAST_ENDPOINT)}", socket)

    def start(self) -> None:
        """Start serving."""
        self._thread.start()

    def close(self, drain_timeout: float = 30.0) -> bool:
        """Stop serving (once, after ``start``); whether every call running finished in time."""
        with self._lock:
            self._drain_deadline = time.monotonic() + drain_timeout
        self._waker.wake()
        self._thread.join()
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._waker.close()
        return self._drained

    def _run(self) -> None:
        poller = zmq.Poller()
        for listener in self._listeners:
            poller.register(listener.socket, zmq.POLLIN)
        poller.register(self._waker.fd, zmq.POLLIN)
        try:
            while True:
                with self._lock:
                    drain_deadline = self._drain_deadline
                timeout_ms = None
                if drain_deadline is not None:
                    if self._in_flight == 0 or time.monotonic() >= drain_deadline:
                        self._drained = self._in_flight == 0
                        return
                    timeout_ms = max(1, math.ceil((drain_deadline - time.monotonic()) * 1000))
                events = dict(poller.poll(timeout_ms))
                if self._waker.fd in events:
                    self._waker.drain()
                self._send_answers()
                for listener in self._listeners:
                    if listener.socket in events:
                        self._receive(listener, closing=drain_deadline is not None)
        finally:
            for listener in self._listeners:
                listener.socket.close(linger=1000)

    def _send_answers(self) -> None:
        while True:
            with self._lock:
                if not self._answers:
                    return
                socket, routing_id, response = self._answers.popleft()
            self._in_flight -= 1
            self._answer(socket, routing_id, response)

    def _answer(self, socket: zmq.Socket, routing_id: bytes, response: Response) -> None:
        header = encode_response(
            response.call_id, response.code, response.message, len(response.payload)
        )
        try:
            socket.send_multipart([routing_id, header, response.payload], zmq.NOBLOCK)
        except zmq.ZMQError:
            pass  # the caller is gone (or not reading): nobody to answer

    def _receive(self, listener: _Listener, closing: bool) -> None:
        while True:
            try:
                frames = listener.socket.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            routing_id, body = frames[0], frames[1:]
            try:
                request = decode(body, self.payload_limit)
            except WireError as error:
                if error.call_id is not None:
                    self._answer(
                        listener.socket,
                        routing_id,
                        Response(error.call_id, error.code, error.message, b""),
                    )
                continue
            if isinstance(request, Cancel):
                # Never answered itself; a call still waiting is answered
                # CANCELLED instead of running, a running one runs on.
                key = (id(listener.socket), routing_id, request.call_id)
                with self._lock:
                    if key in self._waiting:
                        self._waiting[key] = True
                continue
            if isinstance(request, Response):
                self._answer(
                    listener.socket,
                    routing_id,
                    Response(
                        request.call_id,
                        Code.INVALID_ARGUMENT,
                        "expected a request, got a response",
                        b"",
                    ),
                )
            elif closing:
                self._answer(
                    listener.socket,
                    routing_id,
                    Response(
                        request.call_id,
                        Code.UNAVAILABLE,
                        f"the listener at {listener.url} is closing",
                        b"",
                    ),
                )
            else:
                self._dispatch(listener.socket, routing_id, request)

    def _dispatch(self, socket: zmq.Socket, routing_id: bytes, request: Request) -> None:
        received = time.monotonic()
        deadline = None
        if request.timeout_ns != NO_TIMEOUT:
            deadline = received + request.timeout_ns / 1e9
        self._in_flight += 1
        with self._lock:
            self._waiting[(id(socket), routing_id, request.call_id)] = False
        self._pool.submit(self._run_call, socket, routing_id, request, deadline)

    def _run_call(
        self, socket: zmq.Socket, routing_id: bytes, request: Request, deadline: Optional[float]
    ) -> None:
        with self._lock:
            cancelled = self._waiting.pop((id(socket), routing_id, request.call_id), False)
        response = self._call(request, deadline, cancelled)
        with self._lock:
            self._answers.append((socket, routing_id, response))
        self._waker.wake()

    def _call(self, request: Request, deadline: Optional[float], cancelled: bool) -> Response:
        """The answer to request, in the order of docs/wire.md "What a
        server answers": names, then its cancel, then its deadline."""
        methods = self._services.get(request.service)
        if methods is None:
            message = f"service '{request.service}' is not registered"
            return Response(request.call_id, Code.NOT_FOUND, message, b"")
        handler = methods.get(request.method)
        if handler is None:
            message = f"service '{request.service}' has no method '{request.method}'"
            return Response(request.call_id, Code.NOT_FOUND, message, b"")
        if cancelled:
            message = "cancelled by its caller before it ran"
            return Response(request.call_id, Code.CANCELLED, message, b"")
        if deadline is not None and time.monotonic() >= deadline:
            message = "deadline exceeded before the call"
            return Response(request.call_id, Code.DEADLINE_EXCEEDED, message, b"")
        try:
            result = handler(request.payload, deadline)
        except Status as status:
            return Response(request.call_id, status.code, status.message, b"")
        except Exception as error:  # a handler's failure must not stop the server
            message = f"handler raised {type(error).__name__}: {error}"
            return Response(request.call_id, Code.INTERNAL, message, b"")
        if not isinstance(result, (bytes, bytearray, memoryview)):
            message = f"handler returned {type(result).__name__}, not bytes"
            return Response(request.call_id, Code.INTERNAL, message, b"")
        return Response(request.call_id, Code.OK, "", bytes(result))


def serve(
    urls: Sequence[str],
    services: Mapping[str, Mapping[str, Handler]],
    stop: threading.Event,
    *,
    threads: int = 4,
    drain_timeout: float = 30.0,
    on_ready: Callable[[list[str]], None] = lambda urls: None,
) -> bool:
    """Serve ``services`` on ``urls`` until ``stop`` is set, then drain and close.

    ``on_ready`` is called with the addresses bound once every URL is bound
    and serving. Returns whether the drain completed within ``drain_timeout``.
    """
    server = Server(urls, services, threads=threads)
    server.start()
    on_ready(server.urls)
    stop.wait()
    return server.close(drain_timeout)
