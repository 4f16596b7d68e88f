"""The real `medperf` CLI against the server API, step by step, so the two cannot drift.

Each step runs one command in a subprocess against home A and the same action through
the store in home B; the CLI must succeed exactly when the API allows it, and the two
stores must hold the same records after every step.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from medperf_lite import rules
from medperf_lite.commands.tutorial import training_config
from medperf_lite.containers import config as container_config
from medperf_lite.errors import Refused
from medperf_lite.files import FIXTURES
from medperf_lite.home import Home
from tests.helpers import medperf

EXAMPLES = int(os.environ.get("MEDPERF_LITE_CLI_EXAMPLES", "12"))
USERS = ["testmo@example.com", "testdo@example.com", "testao@example.com"]
ids = st.integers(min_value=1, max_value=3)
CONFIGS = {name: FIXTURES / "containers" / name / "container_config.yaml"
           for name in ("chestxray_prep", "nvflare_node", "nvflare_admin")}


def comparable(home: Home) -> dict:
    """The stores' records, without what is random per provisioning (kit blobs)."""
    state = home.store.state()
    state.pop("kits")
    return state


class CliMachine(RuleBasedStateMachine):
    @initialize()
    def setup(self):
        self.dir = Path(tempfile.mkdtemp())
        self.cli_home = self.dir / "cli"
        self.api = Home(self.dir / "api")
        self.tutorial_config = training_config(self.dir / "training_config", "127.0.0.1", (8102, 8103))
        self.participants = self.dir / "cols.yaml"
        self.participants.write_text("testdo@example.com: testdo@example.com\ncol2: testao@example.com\n")

    def teardown(self):
        if hasattr(self, "dir"):
            shutil.rmtree(self.dir, ignore_errors=True)

    def both(self, user: str, command: str, rule_fn, *args) -> None:
        try:
            self.api.store.run(rule_fn, user, *args)
            allowed = True
        except Refused:
            allowed = False
        result = medperf(command, self.cli_home, user=user, cwd=self.dir)
        assert (result.returncode == 0) == allowed, f"{command} as {user}: API allowed={allowed}, CLI {result.stderr}"
        if not allowed:
            assert result.stderr.startswith("Error: ") and "Traceback" not in result.stderr

    @rule(user=st.sampled_from(USERS), name=st.sampled_from(list(CONFIGS)))
    def container_submit(self, user, name):
        config, source = container_config.load(str(CONFIGS[name]))
        self.both(user, f"container submit -n {name} -m {CONFIGS[name]}", rules.submit_container, name, config, None,
                  source)

    @rule(user=st.sampled_from(USERS), prep=ids, fl=ids, name=st.sampled_from(["e1", "e2"]))
    def training_submit(self, user, prep, fl, name):
        self.both(user, f"training submit -n {name} -d d -p {prep} -m {fl}", rules.submit_experiment, name, "d", prep,
                  fl, None)

    @rule(user=st.sampled_from(USERS), exp=ids)
    def ca_associate(self, user, exp):
        self.both(user, f"ca associate -t {exp} -c 1 -y", rules.associate_ca, exp, 1)

    @rule(user=st.sampled_from(USERS), container=ids, address=st.sampled_from(["127.0.0.1", "10.2.3.4"]))
    def aggregator_submit(self, user, container, address):
        self.both(user, f"aggregator submit -n agg -m {container} -a {address} --port 8102 --port 8103",
                  rules.submit_aggregator, "agg", container, address, [8102, 8103])

    @rule(user=st.sampled_from(USERS), agg=ids, exp=ids)
    def aggregator_associate(self, user, agg, exp):
        self.both(user, f"aggregator associate --aggregator_id {agg} --training_exp_id {exp}",
                  rules.associate_aggregator, agg, exp)

    @rule(user=st.sampled_from(USERS), exp=ids)
    def set_plan(self, user, exp):
        """The rules decide who may; the experiment's FL container (run for real) may still fail,
        with one line naming its task; a plan the CLI stored is mirrored on the API side."""
        try:
            rules.check_set_plan(self.api.store.state(), user, exp)
            allowed = True
        except Refused:
            allowed = False
        result = medperf(f"training set_plan -t {exp} -c {self.tutorial_config} -y", self.cli_home, user=user,
                         cwd=self.dir)
        assert result.stderr.count("\n") <= 1 and "Traceback" not in result.stderr, result.stderr
        if not allowed or result.returncode != 0:
            assert result.returncode != 0 and result.stderr.startswith("Error: "), result.stderr
            assert allowed is False or "generate_plan" in result.stderr, result.stderr
            return
        cli = Home(self.cli_home).store.state()
        kits = {"server": None, "clients": {}}
        for kit in cli["kits"].values():
            if kit["experiment"] == exp and kit["role"] == "server":
                kits["server"] = kit["blob"]
            elif kit["experiment"] == exp:
                kits["clients"][kit["email"]] = kit["blob"]
                kits.setdefault("sites", {})[kit["email"]] = kit.get("site")
        self.api.store.run(rules.set_plan, user, exp, cli["experiments"][exp]["plan"], kits)

    @rule(user=st.sampled_from(USERS), exp=ids)
    def start_event(self, user, exp):
        participants = {"testdo@example.com": "testdo@example.com", "col2": "testao@example.com"}
        self.both(user, f"training start_event -n ev -t {exp} -p {self.participants} -y", rules.start_event, exp, "ev",
                  participants)

    @rule(user=st.sampled_from(USERS), exp=ids)
    def close_event_without_federation(self, user, exp):
        try:
            rules.check_event_owner(self.api.store.state(), user, exp)
            allowed = True
        except Refused:
            allowed = False
        result = medperf(f"training close_event -t {exp} -y", self.cli_home, user=user, cwd=self.dir)
        assert (result.returncode == 0) == allowed, result.stderr
        if allowed:  # the CLI wrote its report; mirror the closing on the API side
            report = Home(self.cli_home).store.state()["events"]
            eid, _ = rules.require_open_event(self.api.store.state(), exp)
            self.api.store.run(rules.close_event, user, exp, report[eid]["report"])

    @invariant()
    def same_records(self):
        if not hasattr(self, "dir") or not (self.cli_home / "server" / "db.json").exists():
            return
        assert comparable(Home(self.cli_home)) == comparable(self.api)


CliMachine.TestCase.settings = settings(max_examples=EXAMPLES, stateful_step_count=8, deadline=None,
                                        suppress_health_check=list(HealthCheck))
test_cli_machine = CliMachine.TestCase
