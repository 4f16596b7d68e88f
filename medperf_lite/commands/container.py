"""medperf container submit."""

from __future__ import annotations

from medperf_lite import container_config, rules
from medperf_lite.commands import Session


def submit(session: Session, name: str, config_file: str, parameters_file: str | None) -> int:
    config, source = container_config.load(config_file)
    parameters = container_config.load_parameters(parameters_file) if parameters_file else None
    return session.run(rules.submit_container, name, config, parameters, source)
