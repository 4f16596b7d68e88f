"""A run's scenario variables (``{{NAME}}``): the host's and the run's own, the scenario's, the
caller's (``--var``, the plugin's ``vars=``), each data owner's raw data, and ROUNDS, read from
the server when a step uses it (see simulator/scenario.py for the list)."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

from medperf_lite.errors import MedperfError
from medperf_lite.simulator.scenario import Scenario


def initial(plan: Scenario, runner: str, workdir: Path, ports: tuple[int, int], given: dict) -> dict:
    """Every variable a run knows before its first step (``given``: the caller's)."""
    found = {"HOST": "127.0.0.1", "FL_PORT": ports[0], "ADMIN_PORT": ports[1], "RUNNER": runner,
             "WORKDIR": str(workdir), "PLAN": "medperf_tutorial/training_config",
             "PARTICIPANTS": "medperf_tutorial/cols_list.yaml",
             "SCENARIO_DIR": str(plan.path.resolve().parent) if plan.path else "",  # its helper files' folder
             **plan.vars, **fake_emails(plan.fake_users), **given}
    found["OWNERS"] = plan.owners
    for key, value in given.items():  # raw data given by the caller: their folder, not the run's
        if re.fullmatch(r"DATA\d*", key) and isinstance(value, str) and Path(value).exists():
            found[key] = str(Path(value).resolve())
    found.setdefault("DATA", "medperf_tutorial")  # a folder of each owner's raw data, by site, as the tutorial's
    for k in range(1, plan.owners + 1):
        found.setdefault(f"DATA{k}", f"{found['DATA']}/col{k}")
    return found


def fake_emails(names: list[str]) -> dict[str, str]:
    """Faker identities for the scenario's extra users (unique per run)."""
    from faker import Faker

    fake = Faker()
    return {name: f"{fake.unique.user_name()}.{uuid.uuid4().hex[:6]}@example.org" for name in names}


def derived(name: str, state: dict) -> object:
    """A variable computed from the server's state when a step uses it: ROUNDS, the rounds the
    plan asks for (the newest event's experiment's, else the newest experiment's with a plan)."""
    if name != "ROUNDS":
        raise MedperfError(f"unknown placeholder {{{{{name}}}}}")
    experiments = state.get("experiments") or {}
    events = state.get("events") or {}
    chosen = [events[max(events)]["experiment"]] if events else sorted(experiments, reverse=True)
    for eid in chosen:
        rounds = ((experiments.get(eid) or {}).get("plan") or {}).get("num_rounds")
        if isinstance(rounds, int):
            return rounds
    raise MedperfError("{{ROUNDS}} is the plan's number of rounds: no plan on the server names one yet "
                       "(or set it: --var ROUNDS=N)")
