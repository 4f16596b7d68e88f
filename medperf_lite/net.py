"""Loopback checks: is something listening at host:port (a plain TCP connect)."""

from __future__ import annotations

import socket


def reachable(host: str, port: int, timeout: float = 2.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
