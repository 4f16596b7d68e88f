"""Each rule's refusal, with its message, on small hand-made states (pure: no I/O)."""

import pytest

from medperf_lite import rules, world
from medperf_lite.errors import Refused

MO, DO, DO2, AO = "testmo@example.com", "testdo@example.com", "testdo2@example.com", "testao@example.com"


def apply(state, outcome):
    for table, i, record in outcome.changes:
        state[table][i] = record
    return outcome.value


@pytest.fixture
def state():
    s = {t: {} for t in rules.TABLES}
    apply(s, rules.Outcome(world.seed()))
    return s


@pytest.fixture
def ready(state):
    """The tutorial's world up to set_plan, plus two operational datasets."""
    for name in ("prep", "trainer", "trainadmin"):
        apply(state, rules.submit_container(state, MO, name, {"image": "i", "tasks": {}}, None))
    apply(state, rules.submit_experiment(state, MO, "trainexp", "d", 2, 3, 4))
    apply(state, rules.associate_ca(state, MO, 1, 1))
    apply(state, rules.submit_aggregator(state, MO, "agg", 3, "127.0.0.1", [8102, 8103]))
    apply(state, rules.associate_aggregator(state, MO, 1, 1))
    kits = {"server": "s", "clients": {DO: "c1", DO2: "c2"}}
    apply(state, rules.set_plan(state, MO, 1, {"min_clients": 2, "num_rounds": 3}, kits))
    for owner, digest in ((DO, "h1"), (DO2, "h2")):
        ds = apply(state, rules.submit_dataset(state, owner, "ds", "d", "here", 2, digest))
        apply(state, rules.record_prepare(state, owner, ds, True, None))
        apply(state, rules.set_operational(state, owner, ds, {}))
    return state


def refused(match, fn, state, *args):
    with pytest.raises(Refused, match=match):
        fn(state, *args)


def event(state, participants=None):
    participants = participants or {DO: DO, DO2: DO2}
    return apply(state, rules.start_event(state, MO, 1, "event1", participants))


def test_unknown_user_lists_known_users(state):
    refused(r"unknown user 'x@y.org'; known users: .*testmo@example.com", rules.check_login, state, None, "x@y.org")


def test_missing_entities(ready):
    refused("training experiment 9 does not exist", rules.set_plan, ready, MO, 9, {})
    refused("prep container 9 does not exist", rules.submit_experiment, ready, MO, "n", "d", 9, 3, None)
    refused("CA 2 does not exist", rules.associate_ca, ready, MO, 1, 2)
    refused("dataset 9 does not exist", rules.set_operational, ready, DO, 9, {})


def test_ownership(ready):
    refused("only the owner of training experiment 1", rules.set_plan, ready, DO, 1, {})
    refused("only the owner of dataset 1", rules.record_prepare, ready, DO2, 1, True, None)
    refused("only the owner of training experiment 1 \\(testmo@example.com\\) or of aggregator 1 "
            "\\(testmo@example.com\\)", rules.associate_aggregator, ready, DO, 1, 1)


def test_experiment_approval(state):
    apply(state, rules.submit_container(state, AO, "p", {"image": "i", "tasks": {}}, None))
    exp = apply(state, rules.submit_experiment(state, AO, "e", "d", 2, 2, None))
    assert state["experiments"][exp]["approval_status"] == "PENDING"
    refused("already have a training experiment waiting", rules.submit_experiment, state, AO, "f", "d", 2, 2, None)
    refused("is not approved", rules.set_plan, state, AO, exp, {})
    refused("only the server admin", rules.decide_experiment, state, AO, exp, True)
    assert apply(state, rules.decide_experiment(state, "testadmin@example.com", exp, True)) == "APPROVED"


def test_dataset_states(ready):
    ds = apply(ready, rules.submit_dataset(ready, DO, "x", "d", "l", 2, "h3"))
    refused("has not been prepared successfully", rules.set_operational, ready, DO, ds, {})
    apply(ready, rules.record_prepare(ready, DO, ds, False, "mismatched counts"))
    refused(r"last attempt: mismatched counts", rules.set_operational, ready, DO, ds, {})
    refused("is not operational", rules.associate_dataset, ready, DO, ds, 1)
    refused("already operational", rules.set_operational, ready, DO, 1, {})
    refused("already operational", rules.record_prepare, ready, DO, 1, True, None)
    refused("already registered as dataset 1", rules.submit_dataset, ready, DO, "y", "d", "l", 2, "h1")


def test_prep_container_must_match(ready):
    ds = apply(ready, rules.submit_dataset(ready, DO, "x", "d", "l", 3, "h9"))
    apply(ready, rules.record_prepare(ready, DO, ds, True, None))
    apply(ready, rules.set_operational(ready, DO, ds, {}))
    refused("expects container 2", rules.associate_dataset, ready, DO, ds, 1)


def test_event_needs_plan_aggregator_ca(state):
    apply(state, rules.submit_container(state, MO, "p", {"image": "i", "tasks": {}}, None))
    apply(state, rules.submit_experiment(state, MO, "e", "d", 2, 2, None))
    refused("has no aggregator; run 'medperf aggregator associate' first", rules.set_plan, state, MO, 1, {})
    apply(state, rules.submit_aggregator(state, MO, "a", 2, "localhost", [1, 2]))
    apply(state, rules.associate_aggregator(state, MO, 1, 1))
    refused("has no plan", rules.start_event, state, MO, 1, "e", {"col1": DO})
    apply(state, rules.set_plan(state, MO, 1, {"min_clients": 1}))
    refused("has no CA", rules.start_event, state, MO, 1, "e", {"col1": DO})


def test_event_participants(ready):
    refused("must be printable text", rules.start_event, ready, MO, 1, "e", {"bad\nlabel": DO, "c": DO2})
    refused("appears twice", rules.start_event, ready, MO, 1, "e", {"a": DO, "b": DO})
    refused("unknown user", rules.start_event, ready, MO, 1, "e", {"a": DO, "b": "x@nowhere.org"})
    refused("needs at least 2 clients, the event has 1", rules.start_event, ready, MO, 1, "e", {"col1": DO})
    refused("at least one participant", rules.start_event, ready, MO, 1, "e", None)


def test_open_event_blocks_changes(ready):
    event(ready)
    refused("has an open event", rules.set_plan, ready, MO, 1, {})
    refused("has an open event", rules.start_event, ready, MO, 1, "again", {"col1": DO, "col2": DO2})
    refused("has an open event", rules.associate_ca, ready, MO, 1, 1)


def test_association_approval_and_self_approval(ready):
    apply(ready, rules.submit_aggregator(ready, AO, "agg2", 3, "127.0.0.1", [1, 2]))
    assert apply(ready, rules.associate_aggregator(ready, AO, 2, 1)) == "PENDING"
    assert apply(ready, rules.associate_dataset(ready, DO, 1, 1)) == "PENDING"
    event(ready, {DO2: DO2, "testbo@example.com": "testbo@example.com"})
    refused("has an open event", rules.decide_association, ready, MO, "dataset", 1, 1, True)
    apply(ready, rules.close_event(ready, MO, 1, {}))
    assert apply(ready, rules.decide_association(ready, MO, "dataset", 1, 1, True)) == "APPROVED"
    refused("already APPROVED", rules.decide_association, ready, MO, "dataset", 1, 1, True)


def test_own_request_cannot_be_approved(ready):
    ds = apply(ready, rules.submit_dataset(ready, MO, "mine", "d", "l", 2, "h7"))
    apply(ready, rules.record_prepare(ready, MO, ds, True, None))
    apply(ready, rules.set_operational(ready, MO, ds, {}))
    apply(ready, rules.associate_dataset(ready, MO, ds, 1))
    refused("nobody approves or rejects their own request", rules.decide_association, ready, MO, "dataset", ds, 1,
            True)


def test_participant_association_is_auto_approved(ready):
    event(ready)
    assert apply(ready, rules.associate_dataset(ready, DO, 1, 1)) == "APPROVED"
    refused("already associated", rules.associate_dataset, ready, DO, 1, 1)


def test_training_node_rules(ready):
    refused("is not approved for training experiment 1 \\(not requested\\)", rules.check_train, ready, DO, 1, 1)
    apply(ready, rules.associate_dataset(ready, DO, 1, 1))
    refused("not approved .* \\(PENDING\\)", rules.check_train, ready, DO, 1, 1)
    event(ready)
    assert rules.check_train(ready, DO, 1, 1).value == (1, DO)
    refused("only the owner of aggregator 1 \\(testmo@example.com\\) may start it", rules.check_aggregator_start, ready, DO, 1)


def test_kits_are_readable_only_by_their_participant(ready):
    refused("has no open event", rules.read_kit, ready, DO, 1, "client")
    event(ready)
    assert rules.read_kit(ready, DO, 1, "client").value["blob"] == "c1"
    assert rules.read_kit(ready, DO2, 1, "client").value["blob"] == "c2"
    assert rules.read_kit(ready, MO, 1, "server").value["blob"] == "s"
    refused("only the owner of aggregator 1", rules.read_kit, ready, DO, 1, "server")
    refused("testbo@example.com is not a participant", rules.read_kit, ready, "testbo@example.com", 1, "client")


def test_a_participant_without_a_kit_is_told_why(ready):
    apply(ready, rules.start_event(ready, MO, 1, "event1", {DO: DO, DO2: DO2, "bo": "testbo@example.com"}))
    refused("no startup kit for testbo@example.com .*mapping.yaml", rules.read_kit, ready, "testbo@example.com", 1,
            "client")


def test_jobs_and_closing(ready):
    refused("has no open event", rules.submit_job, ready, MO, 1, "j")
    event(ready)
    apply(ready, rules.submit_job(ready, MO, 1, "j1"))
    refused("already submitted", rules.submit_job, ready, MO, 1, "j2")
    refused("only the aggregator's owner", rules.publish_progress, ready, DO, 1, {})
    apply(ready, rules.close_event(ready, MO, 1, {"complete": True}))
    refused("has no open event", rules.close_event, ready, MO, 1, {})
    refused("has no open event", rules.publish_progress, ready, MO, 1, {})


def test_addresses_and_ports(ready):
    refused("not a loopback address; .* use 127.0.0.1", rules.submit_aggregator, ready, MO, "a", 3, "10.1.2.3",
            [1, 2])
    refused("two different ports", rules.submit_aggregator, ready, MO, "a", 3, "127.0.0.1", [1, 1])
    refused("between 1 and 65535", rules.submit_aggregator, ready, MO, "a", 3, "127.0.0.1", [0, 70000])


def test_duplicate_aggregator_and_names(ready):
    refused("aggregator 1 is already registered at 127.0.0.1 with port\\(s\\) \\[8103\\]", rules.submit_aggregator,
            ready, AO, "again", 3, "127.0.0.1", [9000, 8103])
    for bad in ("", "tab\tname", "line\nbreak", "x" * 300, None):
        refused("needs a name of 1 to 256 printable characters", rules.submit_container, ready, MO, bad, {}, None)


def test_users(state):
    refused("is not an e-mail address", rules.add_user, state, None, "bob")
    refused("is not an e-mail address", rules.add_user, state, None, "bob@example.com\n")
    refused("already exists", rules.add_user, state, None, MO)


def test_experiment_decisions_say_why(state):
    for name in ("prep", "trainer"):
        apply(state, rules.submit_container(state, MO, name, {"image": "i", "tasks": {}}, None))
    apply(state, rules.submit_experiment(state, MO, "e", "d", 2, 3, None))
    state["experiments"][1]["approval_status"] = "PENDING"
    with pytest.raises(Refused, match=r"^training experiment 9 does not exist$"):
        rules.decide_experiment(state, "testadmin@example.com", 9, True)
    with pytest.raises(Refused, match=r"^only the server admin \(testadmin@example\.com\) approves training experiments$"):
        rules.decide_experiment(state, MO, 1, True)
    apply(state, rules.decide_experiment(state, "testadmin@example.com", 1, False))
    with pytest.raises(Refused, match=r"^training experiment 1 is already REJECTED$"):
        rules.decide_experiment(state, "testadmin@example.com", 1, True)
