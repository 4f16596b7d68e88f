"""The server's rules against a plain model, through the store (the server API).

Every action of the command table is tried by random users on random IDs, legal or not;
the model says whether it must be allowed. After every step the invariants of SPEC.md
are checked, and a refused call must leave db.json byte-for-byte unchanged.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from faker import Faker
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from medperf_lite import records, rules, world
from medperf_lite.errors import Refused
from medperf_lite.store import Store

EXAMPLES = int(os.environ.get("MEDPERF_LITE_PROPERTY_EXAMPLES", "200"))
SEEDED = ["admin", "testadmin@example.com", "testmo@example.com", "testdo@example.com",
          "testdo2@example.com", "testao@example.com", "testbo@example.com"]
fake = Faker()
ids = st.sampled_from([1, 1, 1, 2, 2, 3, 4])  # mostly IDs that exist, sometimes not
ADMINS = {"admin", "testadmin@example.com"}
MO, DO, DO2, AO = "testmo@example.com", "testdo@example.com", "testdo2@example.com", "testao@example.com"
MAIN_ACTORS = [MO, DO, DO2]


class Scripted:
    """Stands in for hypothesis' data() to replay a fixed step: its draws return these values."""

    def __init__(self, *values):
        self.values = iter(values)

    def draw(self, _strategy):
        return next(self.values)


class Model:
    """What the server should hold, in the plainest terms."""

    def __init__(self):
        self.users = list(SEEDED)
        self.containers = {1: "admin"}
        self.container_names = {("admin", "medperf-ca")}
        self.exps: dict[int, dict] = {}
        self.aggs: dict[int, str] = {}
        self.endpoints: set[tuple[str, int]] = set()  # (address, port) of every registered aggregator
        self.datasets: dict[int, dict] = {}
        self.assoc: dict[tuple[str, int, int], dict] = {}  # (kind, entity, exp) -> {status, owner}
        self.events: dict[int, dict] = {}
        self.kits: dict[int, set[str | None]] = {}  # exp -> whose kits set_plan stored (None: the server's)
        self.hashes: set[str] = set()
        self.cas = {1}
        self.certs: dict[tuple[str, int, str], int] = {}  # (owner, ca, key type) -> its valid certificate's ID
        self.cert_count = 0

    def open_event(self, exp):
        return next((e for e in self.events.values() if e["exp"] == exp and e["open"]), None)

    def approved_exp(self, exp):
        return exp in self.exps and self.exps[exp]["status"] == "APPROVED"

    def owns_exp(self, user, exp):
        return self.approved_exp(exp) and self.exps[exp]["owner"] == user

    def flower(self, exp):
        return exp in self.exps and self.exps[exp]["flow"] == "flower"

    def aggregator_of(self, exp):
        if self.flower(exp):
            return self.exps[exp]["aggregator"]
        approved = [a for (k, a, e), v in self.assoc.items() if k == "aggregator" and e == exp and v["status"] == "APPROVED"]
        return max(approved) if approved else None


class RulesMachine(RuleBasedStateMachine):
    @initialize(stage=st.sampled_from(["empty", "tutorial", "event", "main", "main", "main-closed"]))
    def setup(self, stage):
        self.dir = tempfile.TemporaryDirectory()
        self.store = Store(Path(self.dir.name), world.seed)
        self.store.run(rules.add_user, None, "first@example.com")  # creates db.json with the seeded world
        self.model = Model()
        self.model.users.append("first@example.com")
        if stage != "empty":  # start from the tutorial's world (sections 1-3, 5) so deep states are reached
            self.submit_container(Scripted(MO), "prep")
            self.submit_container(Scripted(MO), "trainer")
            self.submit_experiment(Scripted(MO, "nvflare", None), 2, 3, "exp-a")
            self.associate_ca(Scripted(MO), 1, 1)
            self.submit_aggregator(Scripted(MO), 3, "127.0.0.1", [8102, 8103])
            self.associate_aggregator(Scripted(MO), 1, 1)
            self.set_plan(Scripted(MO), 1, 1)
            for ds, (owner, digest) in enumerate([(DO, "h1"), (DO2, "h2")], start=1):
                self.submit_dataset(Scripted(owner), 2, digest)
                self.record_prepare(Scripted(owner), ds, True)
                self.set_operational(Scripted(owner), ds)
            assert self.model.exps[1]["plan"] and self.model.datasets[2]["state"] == "OPERATION"
            self.associate_dataset(Scripted(DO), 1, 1)  # before any event: PENDING, for the admin to decide
            self.submit_aggregator(Scripted(AO), 3, "127.0.0.1", [9102, 9103])
            self.associate_aggregator(Scripted(AO), 2, 1)  # another owner's aggregator: PENDING too
            assert self.model.assoc[("dataset", 1, 1)]["status"] == "PENDING"
        if stage in ("event", "main", "main-closed"):  # sections 3-6: the event is open and both data owners joined
            self.start_event(Scripted(MO, DO, DO2), 1, True, "col1")
            self.associate_dataset(Scripted(DO), 1, 1)
            self.associate_dataset(Scripted(DO2), 2, 1)
            assert self.model.open_event(1) and self.model.assoc[("dataset", 2, 1)]["status"] == "APPROVED"
        if stage.startswith("main"):  # MedPerf main's flow beside it: its experiment ready, its event open, one certificate
            self.submit_experiment(Scripted(MO, "flower", None), 2, 3, "exp-b")
            self.set_aggregator(Scripted(MO), 2, 2)
            self.set_plan(Scripted(MO), 2, 1)
            self.submit_dataset(Scripted(MO), 2, "h3")  # the experiment owner's own data: approved at once
            self.record_prepare(Scripted(MO), 3, True)
            self.set_operational(Scripted(MO), 3)
            self.associate_dataset(Scripted(MO), 3, 2)
            self.associate_dataset(Scripted(DO), 1, 2)  # another owner's, before the event: PENDING
            assert [self.model.assoc[("dataset", d, 2)]["status"] for d in (3, 1)] == ["APPROVED", "PENDING"]
            self.start_event(Scripted(MO, DO, DO2), 2, True, "col1", "main-ev")
            self.submit_certificate(Scripted(DO), 1, "EC", "Q0VSVA==")
            assert self.model.open_event(2) and self.model.aggregator_of(2) == 2 and self.model.certs
        if stage == "main-closed":  # ...and its first event over: the next one needs another name
            self.end_event(Scripted(), 2, False, True)
            assert not self.model.open_event(2)

    def teardown(self):
        if hasattr(self, "dir"):
            self.dir.cleanup()

    # -------------------------------------------------------------- helpers

    def attempt(self, allowed: bool, rule_fn, actor, *args):
        before = self.store.db_path.read_bytes()
        try:
            value = self.store.run(rule_fn, actor, *args).value
        except Refused as refusal:
            assert not allowed, f"{rule_fn.__name__}{args} by {actor} refused: {refusal.message}"
            assert self.store.db_path.read_bytes() == before, "a refused call changed the store"
            assert refusal.message and "\n" not in refusal.message
            return None
        assert allowed, f"{rule_fn.__name__}{args} by {actor} was allowed"
        return value

    def user(self, data) -> str:
        return data.draw(st.sampled_from(MAIN_ACTORS * 4 + self.model.users))

    # -------------------------------------------------------------- rules

    @rule(data=st.data())
    def add_user(self, data):
        email = data.draw(st.sampled_from([fake.unique.email(), "not-an-email", self.user(data)]))
        allowed = bool(re.match(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$", email)) and email not in self.model.users
        if self.attempt(allowed, rules.add_user, None, email) is not None:
            self.model.users.append(email)

    @rule(data=st.data(), name=st.sampled_from(["prep", "trainer", "admin", ""]))
    def submit_container(self, data, name):
        actor = self.user(data)
        allowed = bool(name) and (actor, name) not in self.model.container_names
        cid = self.attempt(allowed, rules.submit_container, actor, name, {"image": "x", "tasks": {}}, None)
        if cid is not None:
            assert cid == max(self.model.containers) + 1
            self.model.containers[cid] = actor
            self.model.container_names.add((actor, name))

    @rule(data=st.data(), prep=ids, fl=ids, name=st.sampled_from(["exp-a", "exp-b", "exp-c", ""]))
    def submit_experiment(self, data, prep, fl, name):
        actor = self.user(data)
        flow = data.draw(st.sampled_from(["nvflare", "flower"]))
        agg = data.draw(st.sampled_from([None, None, 1, 2, 5]))
        m = self.model
        allowed = (prep in m.containers and fl in m.containers and bool(name)
                   and (agg is None or (flow == "flower" and agg in m.aggs))
                   and not any(e["owner"] == actor and e["status"] == "PENDING" for e in m.exps.values())
                   and not any(e["name"] == name for e in m.exps.values()))
        eid = self.attempt(allowed, rules.submit_experiment, actor, name, "d", prep, fl, None, flow, agg)
        if eid is not None:
            status = "APPROVED" if actor == "testmo@example.com" else "PENDING"
            m.exps[eid] = {"owner": actor, "status": status, "plan": None, "prep": prep, "name": name, "flow": flow,
                           "aggregator": agg, "state": "DEVELOPMENT"}

    @rule(data=st.data(), exp=ids, approve=st.booleans())
    def decide_experiment(self, data, exp, approve):
        actor = self.user(data)
        m = self.model
        allowed = actor in ("admin", "testadmin@example.com") and exp in m.exps and m.exps[exp]["status"] == "PENDING"
        if self.attempt(allowed, rules.decide_experiment, actor, exp, approve) is not None:
            m.exps[exp]["status"] = "APPROVED" if approve else "REJECTED"

    @rule(data=st.data(), exp=ids, min_clients=st.integers(1, 3))
    def set_plan(self, data, exp, min_clients):
        actor = self.user(data)
        m = self.model
        allowed = m.owns_exp(actor, exp) and m.open_event(exp) is None and m.aggregator_of(exp) is not None
        plan = {"min_clients": min_clients, "num_rounds": 1, "blob": "b"}
        kits = None if m.flower(exp) else {"server": "s", "clients": {DO: "k1", DO2: "k2"}}
        if self.attempt(allowed, rules.set_plan, actor, exp, plan, kits) is not None:
            m.exps[exp]["plan"] = plan
            if kits:
                m.kits[exp] = {None, DO, DO2}

    @rule(data=st.data(), exp=ids, agg=ids)
    def set_aggregator(self, data, exp, agg):
        actor = self.user(data)
        m = self.model
        allowed = m.owns_exp(actor, exp) and m.flower(exp) and agg in m.aggs and m.open_event(exp) is None
        if self.attempt(allowed, rules.set_aggregator, actor, exp, agg) is not None:
            m.exps[exp]["aggregator"] = agg

    @rule(data=st.data(), exp=ids, ca=st.integers(1, 2))
    def associate_ca(self, data, exp, ca):
        actor = self.user(data)
        m = self.model
        allowed = (m.owns_exp(actor, exp) and not m.flower(exp) and ca in m.cas and m.open_event(exp) is None
                   and ("ca", ca, exp) not in m.assoc)
        if self.attempt(allowed, rules.associate_ca, actor, exp, ca) is not None:
            m.assoc[("ca", ca, exp)] = {"status": "APPROVED", "owner": actor}

    @rule(data=st.data(), container=ids, address=st.sampled_from(["127.0.0.1", "localhost", "10.0.0.1"]),
          ports=st.sampled_from([[8102, 8103], [8102, 8102], [8102], [0, 8103], [9202, 9203], [8103, 9300]]))
    def submit_aggregator(self, data, container, address, ports):
        actor = self.user(data)
        m = self.model
        allowed = (container in m.containers and address != "10.0.0.1" and len(ports) == 2
                   and ports[0] != ports[1] and min(ports) >= 1
                   and not any((address, port) in m.endpoints for port in ports))  # no duplicate registration
        aid = self.attempt(allowed, rules.submit_aggregator, actor, "agg", container, address, ports)
        if aid is not None:
            m.aggs[aid] = actor
            m.endpoints |= {(address, port) for port in ports}

    @rule(data=st.data(), agg=ids, exp=ids)
    def associate_aggregator(self, data, agg, exp):
        actor = self.user(data)
        m = self.model
        allowed = (agg in m.aggs and m.approved_exp(exp) and actor in (m.exps[exp]["owner"], m.aggs[agg])
                   and not m.flower(exp) and m.open_event(exp) is None and ("aggregator", agg, exp) not in m.assoc)
        status = self.attempt(allowed, rules.associate_aggregator, actor, agg, exp)
        if status is not None:
            expected = "APPROVED" if m.aggs[agg] == m.exps[exp]["owner"] else "PENDING"
            assert status == expected
            m.assoc[("aggregator", agg, exp)] = {"status": status, "owner": m.aggs[agg]}

    @rule(data=st.data(), prep=ids, digest=st.sampled_from(["h1", "h2", "h3", "h4", "h5"]))
    def submit_dataset(self, data, prep, digest):
        actor = self.user(data)
        m = self.model
        allowed = prep in m.containers and digest not in m.hashes
        did = self.attempt(allowed, rules.submit_dataset, actor, "ds", "d", "here", prep, digest)
        if did is not None:
            m.hashes.add(digest)
            m.datasets[did] = {"owner": actor, "prep": prep, "prepared": False, "state": "DEVELOPMENT"}

    @rule(data=st.data(), ds=ids, ok=st.booleans())
    def record_prepare(self, data, ds, ok):
        actor = self.user(data)
        m = self.model
        allowed = ds in m.datasets and m.datasets[ds]["owner"] == actor and m.datasets[ds]["state"] == "DEVELOPMENT"
        if self.attempt(allowed, rules.record_prepare, actor, ds, ok, None if ok else "bad") is not None:
            m.datasets[ds]["prepared"] = ok

    @rule(data=st.data(), ds=ids)
    def set_operational(self, data, ds):
        actor = self.user(data)
        m = self.model
        d = m.datasets.get(ds)
        allowed = d is not None and d["owner"] == actor and d["state"] == "DEVELOPMENT" and d["prepared"]
        if self.attempt(allowed, rules.set_operational, actor, ds, {"n": 1}) is not None:
            d["state"] = "OPERATION"

    @rule(data=st.data(), ds=ids, exp=ids)
    def associate_dataset(self, data, ds, exp):
        actor = self.user(data)
        m = self.model
        d = m.datasets.get(ds)
        allowed = (d is not None and d["owner"] == actor and m.approved_exp(exp) and d["state"] == "OPERATION"
                   and d["prep"] == m.exps[exp]["prep"] and ("dataset", ds, exp) not in m.assoc)
        status = self.attempt(allowed, rules.associate_dataset, actor, ds, exp)
        if status is not None:
            event = m.open_event(exp)
            invited = (event and actor in event["members"]) or (m.flower(exp) and m.exps[exp]["owner"] == actor)
            assert status == ("APPROVED" if invited else "PENDING")
            m.assoc[("dataset", ds, exp)] = {"status": status, "owner": actor}

    @rule(data=st.data(), kind=st.sampled_from(["dataset", "aggregator"]), entity=st.sampled_from([1, 2, 3]),
          exp=st.sampled_from([1, 1, 2]), approve=st.booleans())
    def decide_association(self, data, kind, entity, exp, approve):
        actor = data.draw(st.sampled_from([MO, MO, *self.model.users]))
        m = self.model
        a = m.assoc.get((kind, entity, exp))
        allowed = (m.owns_exp(actor, exp) and a is not None and a["owner"] != actor and a["status"] == "PENDING"
                   and m.open_event(exp) is None)
        if self.attempt(allowed, rules.decide_association, actor, kind, entity, exp, approve) is not None:
            a["status"] = "APPROVED" if approve else "REJECTED"

    @rule(data=st.data(), exp=ids, use_file=st.booleans(), label=st.sampled_from(["col1", "bad\nlabel", "", DO]),
          name=st.sampled_from(["ev", "ev", "ev2", "main-ev"]), owner=st.booleans())
    def start_event(self, data, exp, use_file, label, name="ev", owner=False):
        """Drawn as the owner half the time, as end_event: what it opens, many rules need."""
        actor = MO if owner else self.user(data)
        m = self.model
        participants = {label: self.user(data), "col2": self.user(data)} if use_file else None
        if participants is None and exp in m.exps:
            participants = {}
            for (kind, ds, e), a in sorted(m.assoc.items()):
                if kind == "dataset" and e == exp and a["status"] == "APPROVED":
                    email = m.datasets[ds]["owner"]
                    participants.setdefault(email, email)
        plan = m.exps[exp]["plan"] if exp in m.exps else None
        allowed = (m.owns_exp(actor, exp) and m.open_event(exp) is None and plan is not None
                   and m.aggregator_of(exp) is not None and (m.flower(exp) or ("ca", 1, exp) in m.assoc)
                   and not (m.flower(exp) and any(e["name"] == name for e in m.events.values())) and bool(participants)
                   and all(lbl and lbl.isprintable() for lbl in participants)
                   and len(set(participants.values())) == len(participants)
                   and plan["min_clients"] <= len(participants))
        eid = self.attempt(allowed, rules.start_event, actor, exp, name, participants if use_file else None)
        if eid is not None:
            members = set(participants) | set(participants.values())
            m.events[eid] = {"exp": exp, "open": True, "members": members, "job": None, "name": name,
                             "agg_owner": m.aggs[m.aggregator_of(exp)], "participants": dict(participants)}
            if not m.flower(exp):
                m.exps[exp]["state"] = "OPERATION"
            for (kind, _, e), a in m.assoc.items():
                if kind == "dataset" and e == exp and a["status"] == "PENDING" and a["owner"] in participants.values():
                    a["status"] = "APPROVED"

    @rule(data=st.data(), exp=ids)
    def submit_job(self, data, exp):
        actor = self.user(data)
        m = self.model
        event = m.open_event(exp)
        allowed = m.owns_exp(actor, exp) and not m.flower(exp) and event is not None and event["job"] is None
        if self.attempt(allowed, rules.submit_job, actor, exp, "job-1") is not None:
            event["job"] = "job-1"

    @rule(data=st.data(), exp=ids)
    def publish_progress(self, data, exp):
        actor = self.user(data)
        m = self.model
        event = m.open_event(exp)
        allowed = event is not None and event["agg_owner"] == actor
        self.attempt(allowed, rules.publish_progress, actor, exp, {"rounds_done": 1})

    @rule(data=st.data(), exp=st.sampled_from([1, 1, 2, 2]), cancel=st.booleans(), owner=st.booleans())
    def end_event(self, data, exp, cancel, owner):
        """close_event or cancel_event: the experiment's owner ends its open event (drawn as the
        owner half the time: this rule ends what many others need, so it must also succeed)."""
        actor = MO if owner else self.user(data)
        m = self.model
        event = m.open_event(exp)
        allowed = m.owns_exp(actor, exp) and event is not None
        rule_fn = rules.cancel_event if cancel else rules.close_event
        if self.attempt(allowed, rule_fn, actor, exp, {"complete": False}) is not None:
            event["open"] = False
            event["cancelled"] = cancel

    @rule(data=st.data(), exp=ids, field=st.sampled_from(["text", "error", "nonsense"]))
    def record_failure(self, data, exp, field):
        actor = self.user(data)
        m = self.model
        event = m.open_event(exp)
        allowed = event is not None and field != "nonsense" and (event["agg_owner"] == actor or actor in event["members"])
        if self.attempt(allowed, rules.record_failure, actor, exp, {field: f"{actor} failed"}) is not None:
            entry = (actor, field)
            if entry not in event.setdefault("failures", []) and len(event["failures"]) < rules.MAX_FAILURES:
                event["failures"].append(entry)

    @rule(data=st.data(), ds=ids, exp=ids)
    def check_train(self, data, ds, exp):
        actor = self.user(data)
        m = self.model
        d, a, event = m.datasets.get(ds), m.assoc.get(("dataset", ds, exp)), m.open_event(exp)
        allowed = (d is not None and d["owner"] == actor and a is not None and a["status"] == "APPROVED"
                   and event is not None and actor in event["members"])
        self.attempt(allowed, rules.check_train, actor, ds, exp)

    @rule(data=st.data(), exp=ids)
    def check_aggregator_start(self, data, exp):
        actor = self.user(data)
        m = self.model
        event = m.open_event(exp)
        allowed = exp in m.exps and event is not None and event["agg_owner"] == actor
        self.attempt(allowed, rules.check_aggregator_start, actor, exp)

    @rule(data=st.data(), exp=ids, role=st.sampled_from(["server", "client"]))
    def read_kit(self, data, exp, role):
        actor = self.user(data)
        m = self.model
        event = m.open_event(exp) if not m.flower(exp) else None
        if role == "server":
            allowed = event is not None and event["agg_owner"] == actor and None in m.kits.get(exp, ())
        else:
            allowed = event is not None and actor in event["members"] and actor in m.kits.get(exp, ())
        kit = self.attempt(allowed, rules.read_kit, actor, exp, role)
        if kit is not None:
            assert kit["experiment"] == exp and kit["role"] == role
            assert kit["email"] == (actor if role == "client" else None)

    @rule(data=st.data(), ca=st.sampled_from([1, 1, 2]), key_type=st.sampled_from(["EC", "EC", "RSA", "DSA"]),
          content=st.sampled_from(["Q0VSVA==", "Q0VSVA==", ""]))
    def submit_certificate(self, data, ca, key_type, content):
        actor = self.user(data)
        m = self.model
        allowed = (ca in m.cas and key_type in ("EC", "RSA") and (actor, ca, key_type) not in m.certs
                   and bool(content))
        cid = self.attempt(allowed, rules.submit_certificate, actor, ca, key_type, content, "n")
        if cid is not None:
            m.cert_count += 1
            assert cid == m.cert_count
            m.certs[(actor, ca, key_type)] = cid

    @rule(data=st.data(), key_type=st.sampled_from(["EC", "RSA"]))
    def invalidate_certificate(self, data, key_type):
        actor = self.user(data)
        m = self.model
        cid = self.attempt(True, rules.invalidate_certificate, actor, 1, key_type)
        assert cid == m.certs.pop((actor, 1, key_type), None)

    @rule(data=st.data(), exp=ids)
    def collaborators(self, data, exp):
        actor = self.user(data)
        m = self.model
        event = m.open_event(exp)
        allowed = (m.flower(exp) and event is not None and event["agg_owner"] == actor
                   and all((email, 1, "EC") in m.certs for email in event["participants"].values()))
        cols = self.attempt(allowed, rules.collaborators, actor, exp, 1)
        if cols is not None:
            assert {label: c["email"] for label, c in cols.items()} == event["participants"]

    def event_id(self, exp):
        return next(i for i, e in self.model.events.items() if e["exp"] == exp and e["open"])

    # -------------------------------------------------------------- invariants

    @invariant()
    def store_matches_model(self):
        if not hasattr(self, "store"):
            return
        state = self.store.state()
        m = self.model
        for table in rules.TABLES:
            keys = list(state[table])
            assert keys == sorted(keys) and (not keys or keys == list(range(1, len(keys) + 1))), table
            for row in state[table].values():  # every row is its table's record (records.py), no more, no less
                assert records.misfit(table, row) is None, records.misfit(table, row)
        assert [u["email"] for _, u in sorted(state["users"].items())] == m.users
        assert {u["email"] for u in state["users"].values() if u["is_admin"]} == ADMINS, "only the seeded admins"
        assert len(state["containers"]) == len(m.containers)
        assert len(state["experiments"]) == len(m.exps)
        for did, d in m.datasets.items():
            assert state["datasets"][did]["state"] == d["state"]
        for a in state["associations"].values():
            table = {"dataset": "datasets", "aggregator": "aggregators", "ca": "cas"}[a["kind"]]
            assert a["entity"] in state[table] and a["experiment"] in state["experiments"]
            assert m.assoc[(a["kind"], a["entity"], a["experiment"])]["status"] == a["status"]
        for exp in state["experiments"]:
            assert sum(1 for e in state["events"].values() if e["experiment"] == exp and e["status"] == "OPEN") <= 1
        assert len(state["events"]) == len(m.events)
        for eid, e in m.events.items():
            status = "OPEN" if e["open"] else "CANCELLED" if e.get("cancelled") else "FINISHED"
            assert state["events"][eid]["status"] == status
            recorded = [(f["reported_by"], "text" if f["text"] else "error") for f in state["events"][eid]["failures"]]
            assert recorded == e.get("failures", [])
        for kit in state["kits"].values():
            assert kit["email"] in m.kits[kit["experiment"]]
        for eid, exp in state["experiments"].items():
            assert exp["flow"] == m.exps[eid]["flow"] and exp["state"] == m.exps[eid]["state"]
            assert rules.experiment_aggregator(state, eid) == m.aggregator_of(eid)
        valid = {(state["users"][c["owner"]]["email"], c["ca"], c["key_type"]): cid
                 for cid, c in state["certificates"].items() if c["is_valid"]}
        assert valid == m.certs and len(state["certificates"]) == m.cert_count


# under mutmut (`make mutation`) a failure is all that counts: no shrinking, no explanation
MUTATION = os.environ.get("MUTANT_UNDER_TEST") not in (None, "", "stats")
RulesMachine.TestCase.settings = settings(
    max_examples=EXAMPLES, stateful_step_count=60, deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate] if MUTATION else list(Phase),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
test_rules_machine = RulesMachine.TestCase
