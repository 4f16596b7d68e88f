"""The aggregator's two ports for a run: free ones on 127.0.0.1, or for a teaching run (guide,
role play, live page) the tutorial's own 8102/8103 when they are free and no other teaching
run holds them (a lock file for the run's lifetime), said either way."""

from __future__ import annotations

import os
import socket
import tempfile

_PORTS_HELD: list[int] = []


def teaching_ports(say) -> list[int]:
    """The tutorial's ports 8102/8103 when both are free (a teaching run looks like the tutorial),
    else two free ones, said."""
    import fcntl

    from medperf_lite.commands.tutorial import DEFAULT_PORTS

    sockets = []
    held = os.open(os.path.join(tempfile.gettempdir(), "medperf-lite-tutorial-ports.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # one teaching run at a time has them
        _PORTS_HELD.append(held)  # until this process ends
    except OSError:
        os.close(held)
        chosen = free_ports(2)
        say(f"another run has the tutorial's ports {DEFAULT_PORTS[0]}/{DEFAULT_PORTS[1]}: using {chosen[0]}/{chosen[1]}")
        return chosen
    try:
        for port in DEFAULT_PORTS:
            s = socket.socket()
            sockets.append(s)
            s.bind(("127.0.0.1", port))
    except OSError:
        chosen = free_ports(2)
        say(f"the tutorial's ports {DEFAULT_PORTS[0]}/{DEFAULT_PORTS[1]} are in use here: using {chosen[0]}/{chosen[1]}")
        return chosen
    finally:
        for s in sockets:
            s.close()
    say(f"the aggregator will use the tutorial's ports {DEFAULT_PORTS[0]}/{DEFAULT_PORTS[1]}")
    return list(DEFAULT_PORTS)


def free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def release() -> None:
    while _PORTS_HELD:
        os.close(_PORTS_HELD.pop())
