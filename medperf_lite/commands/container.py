"""medperf container submit."""

from __future__ import annotations

import hashlib

from medperf_lite import container_config, rules
from medperf_lite.commands import Session
from medperf_lite.errors import MedperfError
from medperf_lite.inputs import fetch_text


def _check_hash(location: str, expected: str | None) -> None:
    if expected is None:
        return
    text, _ = fetch_text(location)
    actual = hashlib.sha256(text.encode()).hexdigest()
    if actual != expected.lower():
        raise MedperfError(f"{location} has sha256 {actual}, not the expected {expected}")


def submit(session: Session, name: str, config_file: str, parameters_file: str | None,
           config_hash: str | None = None, parameters_hash: str | None = None) -> int:
    config_file = session.own_path(config_file)
    parameters_file = session.own_path(parameters_file) if parameters_file else None
    _check_hash(config_file, config_hash)
    if parameters_file:
        _check_hash(parameters_file, parameters_hash)
    config, source = container_config.load(config_file)
    parameters = container_config.load_parameters(parameters_file) if parameters_file else None
    return session.run(rules.submit_container, name, config, parameters, source)
