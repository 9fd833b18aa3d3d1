"""junction-host checked from Python, through junction's wire protocol alone.

    /usr/bin/python3 wire_client_test.py --daemon PATH/junction-host \\
        --module PATH/libdaemon_fixture_module.so

Starts the daemon serving the fixture module on zmq+tcp://127.0.0.1:0 and on
zmq+ipc:// under a fresh temporary directory, runs every check of
wire_checks.run_server_checks against both URLs through junction_wire.Client
and hand-made frames, checks that a call with nothing listening is UNAVAILABLE,
then sends SIGTERM with a call in flight and expects that call answered and
exit status 0. Prints PASS or FAIL per check; exits 0 only when all pass. The
daemon is killed on any failure, and the whole run on a 100 s watchdog.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import wire_checks as checks

WATCHDOG_SECONDS = 100.0


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
