"""junction-host checked from Python, through junction's wire protocol alone.

    /usr/bin/python3 wire_client_test.py --daemon PATH/junction-host \\
        --module PATH/libdaemon_fixture_module.so

Starts the daemon serving the fixture module on zmq+tcp://127.0.0.1:0 and on
zmq+ipc:// under a fresh temporary directory, runs every check of
wire_checks.run_server_checks against both URLs through junction_wire.Client
and hand-made frames, checks that a call with nothing listening is UNAVAILABLE,
then sends SIGTERM with a call in flight and expects that call answered and
exit status 0. A second daemon serves with CURVE and a client list
(--curve-secret-key-file, --curve-client-keys-file): a Python client with a
listed key calls it over tcp and ipc, one with another key or without CURVE
never connects and is answered UNAVAILABLE; then the client list is
rewritten and the daemon sent SIGHUP, after which the old key's open
connection is answered PERMISSION_DENIED and the new key is served. Prints
PASS or FAIL per check;
exits 0 only when all pass. The daemons are killed on any failure, and the
whole run on a 100 s watchdog.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time

import zmq

import junction_wire as wire
import wire_checks as checks

WATCHDOG_SECONDS = 100.0


def z85_pair() -> tuple[str, str]:
    """A new CURVE key pair, (public, secret) as Z85 text."""
    public, secret = zmq.curve_keypair()
    return public.decode(), secret.decode()


def check_curve(daemon_binary: str, module: str, directory: str) -> None:
    """A CURVE daemon with a client list, called with listed and other keys."""
    server_public, server_secret = z85_pair()
    listed = z85_pair()
    secret_file = os.path.join(directory, "daemon.secret")
    with open(os.open(secret_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
        f.write(server_secret + "\n")
    clients_file = os.path.join(directory, "clients")
    with open(clients_file, "w", encoding="ascii") as f:
        f.write(f"# the listed client\n{listed[0]}\n")
    daemon = checks.ServerProcess(
        [daemon_binary, "--module", module, "--listen", "zmq+tcp://127.0.0.1:0",
         "--listen", f"zmq+ipc://{directory}/curve.sock",
         "--curve-secret-key-file", secret_file, "--curve-client-keys-file", clients_file]
    )
    try:
        urls = daemon.wait_ready()
        for url in urls:
            with checks.connected_client(
                url, curve_server_key=server_public, curve_key_pair=listed
            ) as client:
                response = client.call("fixture", "echo", b"sealed", timeout=checks.CALL_TIMEOUT)
            checks.expect(response.ok and response.payload == b"sealed", checks.describe(response))
            for label, options in (
                ("another key", {"curve_server_key": server_public, "curve_key_pair": z85_pair()}),
                ("no CURVE", {}),
            ):
                with wire.Client(url, **options) as client:  # type: ignore[arg-type]
                    checks.expect(
                        not client.wait_connected(0.5), f"{url}, {label}: the handshake passed"
                    )
                    response = client.call("fixture", "echo", b"x", timeout=checks.CALL_TIMEOUT)
                checks.expect(
                    response.code == wire.Code.UNAVAILABLE,
                    f"{url}, {label}: {checks.describe(response)}",
                )
        check_curve_rotation(daemon, urls[0], clients_file, server_public, listed)
    finally:
        daemon.kill()


def check_curve_rotation(
    daemon: checks.ServerProcess,
    url: str,
    clients_file: str,
    server_public: str,
    listed: tuple[str, str],
) -> None:
    """The daemon's client list rewritten and read again on SIGHUP: the old
    key's open connection is answered PERMISSION_DENIED, the new key is let in."""
    rotated = z85_pair()
    with checks.connected_client(
        url, curve_server_key=server_public, curve_key_pair=listed
    ) as old_client:
        response = old_client.call("fixture", "echo", b"before", timeout=checks.CALL_TIMEOUT)
        checks.expect(response.ok, f"before the rotation: {checks.describe(response)}")
        with open(clients_file, "w", encoding="ascii") as f:
            f.write(f"{rotated[0]}\n")
        daemon.process.send_signal(signal.SIGHUP)
        checks.expect(
            daemon.wait_stderr(
                f"junction-host: SIGHUP received; 1 client key(s) from {clients_file} let in, "
                "no other (a connection whose key is gone is refused at its next call)",
                checks.CALL_TIMEOUT,
            ),
            f"no reload logged: {daemon.stderr_text()}",
        )
        response = old_client.call("fixture", "echo", b"after", timeout=checks.CALL_TIMEOUT)
        checks.expect(
            response.code == wire.Code.PERMISSION_DENIED
            and response.message == f"this client's CURVE key is no longer let in at {url}",
            f"the revoked key's connection: {checks.describe(response)}",
        )
    with checks.connected_client(
        url, curve_server_key=server_public, curve_key_pair=rotated
    ) as new_client:
        response = new_client.call("fixture", "echo", b"rotated", timeout=checks.CALL_TIMEOUT)
    checks.expect(
        response.ok and response.payload == b"rotated", f"the new key: {checks.describe(response)}"
    )


def main() -> int:
    """Run the checks; the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--daemon", required=True, help="the junction-host binary")
    parser.add_argument("--module", required=True, help="the fixture module")
    args = parser.parse_args()
    for path in (args.daemon, args.module):
        if not os.path.isfile(path):
            parser.error(f"no such file: {path}")

    started = time.monotonic()
    report = checks.Report()
    with tempfile.TemporaryDirectory(prefix="junction-wire-") as directory:
        command = [args.daemon, "--module", os.path.abspath(args.module)]

        def more_checks(daemon: checks.ServerProcess) -> None:
            report.run(
                "no server: UNAVAILABLE at once",
                checks.check_no_server,
                f"zmq+ipc://{directory}/nobody.sock",
            )
            report.run(
                "CURVE: listed key served, others refused, SIGHUP rotates",
                check_curve,
                args.daemon,
                os.path.abspath(args.module),
                directory,
            )
            report.run(
                "daemon running after all checks",
                checks.expect,
                daemon.running(),
                f"the daemon exited: {daemon.stderr_text()}",
            )

        checks.run_server_process_checks(
            report, command, directory, "", WATCHDOG_SECONDS, more_checks
        )
    return report.summary(started)


if __name__ == "__main__":
    sys.exit(main())
