"""medperf certificate get_client_certificate / get_server_certificate.

MedPerf fetches certificates from its CA; here the certificates travel inside the startup
kits set_plan stored, so these fetch the caller's own kit (readable only by them)."""

from __future__ import annotations

from pathlib import Path

from medperf_lite.commands import Session
from medperf_lite.commands.nodes import experiment_dir, fetch_kit


def get(session: Session, exp_id: int, role: str) -> Path:
    return fetch_kit(session, exp_id, role, experiment_dir(session, exp_id, "certificates", role))
