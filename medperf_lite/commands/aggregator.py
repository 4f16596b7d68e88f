"""medperf aggregator start (submit and associate are single server rules)."""

from __future__ import annotations

import os

from medperf_lite import rules
from medperf_lite.commands import Session
from medperf_lite.commands.nodes import run_node


def start(session: Session, exp_id: int, publish_on: str, runner: str | None = None) -> None:
    """Runs the NVFlare server from the server kit; blocks until the federation shuts down."""
    rules.require_loopback(publish_on, "--publish_on")
    event_id, agg_id = session.run(rules.check_aggregator_start, exp_id)
    env = {"MEDPERF_PUBLISH_ON": publish_on,
           "MEDPERF_HEARTBEAT_TIMEOUT": os.environ.get("MEDPERF_LITE_HEARTBEAT_TIMEOUT", "60")}
    agg = session.state()["aggregators"][agg_id]
    container = rules.get(session.state(), "containers", agg["container"], "aggregation container")
    run_node(session, exp_id, event_id, "server", "start_aggregator", {}, env, runner,
             container=container, publish=True)
