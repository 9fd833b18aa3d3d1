#!/usr/bin/env python3
"""Writes the seed corpus of frame_decode_fuzz into corpus/ (committed), or
into the directory given (ctest's freshness check compares the two).

    python3 transports/fuzz/make_seeds.py [DIR]

Each seed is the fuzz input format: an 8-byte little-endian payload frame
length, then a header frame laid out as docs/wire.md describes.
"""

import pathlib
import struct
import sys

HERE = pathlib.Path(__file__).resolve().parent
OUT = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "corpus"


def header(kind, call_id, timeout_ns=0, code=0, service=b"", method=b"", message=b"",
           payload_len=0, version=1):
    fixed = struct.pack("<4sBBBBQqiIQ", b"JNWF", version, kind, len(service), len(method),
                        call_id, timeout_ns, code, len(message), payload_len)
    return fixed + service + method + message


def seed(name, payload_frame_len, body):
    (OUT / name).write_bytes(struct.pack("<Q", payload_frame_len) + body)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    seed("request", 5, header(1, 7, 1_000_000, service=b"rust.echo", method=b"echo",
                              payload_len=5))
    seed("request-no-timeout", 0, header(1, 8, -1, service=b"go.echo", method=b"length"))
    seed("response-ok", 8, header(2, 7, payload_len=8))
    seed("response-error", 0, header(2, 9, code=14, message=b"peer went away"))
    # Longer than libFuzzer's usual 4096-byte inputs: long status messages.
    seed("response-long-message", 0, header(2, 14, code=5, message=b"m" * 5000))
    seed("cancel", 0, header(3, 13))
    seed("version-2", 0, header(1, 10, version=2, service=b"s", method=b"m"))
    seed("truncated", 5, header(1, 11, service=b"svc", method=b"m", payload_len=5)[:30])
    seed("oversized", 0, header(1, 12, service=b"s", method=b"m", payload_len=1 << 40))


if __name__ == "__main__":
    main()
