"""Each rule's refusal, with its message, on small hand-made states (pure: no I/O)."""

import re

import pytest

from medperf_lite import rules
from medperf_lite.errors import Refused

MO, DO, DO2, AO = "testmo@example.com", "testdo@example.com", "testdo2@example.com", "testao@example.com"


def apply(state, outcome):
    for table, i, record in outcome.changes:
        state[table][i] = record
    return outcome.value


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


def missing(what: str, listing: str) -> str:
    """A wrong ID's refusal, word for word: what does not exist, and the listing of the IDs."""
    return f"{what} does not exist; `{listing}` lists the IDs"


def refused(message, fn, state, *args):
    """The rule refuses, word for word (what a user reads is part of the rule)."""
    with pytest.raises(Refused) as e:
        fn(state, *args)
    assert e.value.message == message


def event(state, participants=None):
    participants = participants or {DO: DO, DO2: DO2}
    return apply(state, rules.start_event(state, MO, 1, "event1", participants))


def test_unknown_user_lists_known_users(state):
    refused("unknown user 'x@y.org'; known users: admin, testadmin@example.com, testao@example.com, "
            "testbo@example.com, testdo2@example.com, testdo@example.com, testmo@example.com",
            rules.check_login, state, None, "x@y.org")


def test_missing_entities(ready):
    refused(missing("training experiment 9", "medperf training ls"), rules.set_plan, ready, MO, 9, {})
    refused(missing("prep container 9", "medperf container ls"), rules.submit_experiment, ready, MO, "n", "d", 9, 3, None)
    refused(missing("CA 2", "medperf ca ls"), rules.associate_ca, ready, MO, 1, 2)
    refused(missing("dataset 9", "medperf dataset ls --mine"), rules.set_operational, ready, DO, 9, {})


def test_ownership(ready):
    refused("only the owner of training experiment 1 (testmo@example.com) may do this", rules.set_plan, ready, DO, 1, {})
    refused("only the owner of dataset 1 (testdo@example.com) may do this", rules.record_prepare, ready, DO2, 1, True, None)
    refused("only the owner of training experiment 1 (testmo@example.com) or of aggregator 1 "
            "(testmo@example.com) may associate them", rules.associate_aggregator, ready, DO, 1, 1)


def test_experiment_approval(state):
    apply(state, rules.submit_container(state, AO, "p", {"image": "i", "tasks": {}}, None))
    exp = apply(state, rules.submit_experiment(state, AO, "e", "d", 2, 2, None))
    assert state["experiments"][exp]["approval_status"] == "PENDING"
    refused("you already have a training experiment waiting for approval", rules.submit_experiment, state, AO, "f", "d",
            2, 2, None)
    assert apply(state, rules.submit_experiment(state, DO, "g", "d", 2, 2, None)) == 2  # AO's wait is AO's only
    refused("training experiment 1 is not approved (PENDING)", rules.set_plan, state, AO, exp, {})
    refused("only the server admin (testadmin@example.com) approves training experiments",
            rules.decide_experiment, state, AO, exp, True)
    assert apply(state, rules.decide_experiment(state, "testadmin@example.com", exp, True)) == "APPROVED"


def test_dataset_states(ready):
    ds = apply(ready, rules.submit_dataset(ready, DO, "x", "d", "l", 2, "h3"))
    refused("dataset 3 has not been prepared successfully; run 'medperf dataset prepare' first",
            rules.set_operational, ready, DO, ds, {})
    apply(ready, rules.record_prepare(ready, DO, ds, False, "mismatched counts"))
    refused("dataset 3 has not been prepared successfully (last attempt: mismatched counts); run "
            "'medperf dataset prepare' first", rules.set_operational, ready, DO, ds, {})
    refused("dataset 3 is not operational; run 'medperf dataset set_operational' first",
            rules.associate_dataset, ready, DO, ds, 1)
    refused("dataset 1 is already operational", rules.set_operational, ready, DO, 1, {})
    refused("dataset 1 is already operational", rules.record_prepare, ready, DO, 1, True, None)
    refused("this data is already registered as dataset 1", rules.submit_dataset, ready, DO, "y", "d", "l", 2, "h1")


def test_prep_container_must_match(ready):
    ds = apply(ready, rules.submit_dataset(ready, DO, "x", "d", "l", 3, "h9"))
    apply(ready, rules.record_prepare(ready, DO, ds, True, None))
    apply(ready, rules.set_operational(ready, DO, ds, {}))
    refused("dataset 3 was prepared with container 3, training experiment 1 expects container 2",
            rules.associate_dataset, ready, DO, ds, 1)


def test_event_needs_plan_aggregator_ca(state):
    apply(state, rules.submit_container(state, MO, "p", {"image": "i", "tasks": {}}, None))
    apply(state, rules.submit_experiment(state, MO, "e", "d", 2, 2, None))
    refused("training experiment 1 has no aggregator; run 'medperf aggregator associate' first", rules.set_plan, state, MO, 1, {})
    apply(state, rules.submit_aggregator(state, MO, "a", 2, "localhost", [1, 2]))
    apply(state, rules.associate_aggregator(state, MO, 1, 1))
    refused("training experiment 1 has no plan; run 'medperf training set_plan' first", rules.start_event, state, MO, 1, "e",
            {"col1": DO})
    apply(state, rules.set_plan(state, MO, 1, {"min_clients": 1}))
    refused("training experiment 1 has no CA; run 'medperf ca associate' first", rules.start_event, state, MO, 1, "e",
            {"col1": DO})


def test_event_participants(ready):
    refused("participant 'bad\\nlabel': labels and common names must be printable text (1-256 "
            "characters)", rules.start_event, ready, MO, 1, "e", {"bad\nlabel": DO, "c": DO2})
    refused("a participant appears twice in the participants list", rules.start_event, ready, MO, 1, "e", {"a": DO, "b": DO})
    refused("unknown user 'x@nowhere.org'; known users: admin, testadmin@example.com, "
            "testao@example.com, testbo@example.com, testdo2@example.com, testdo@example.com, "
            "testmo@example.com", rules.start_event, ready, MO, 1, "e", {"a": DO, "b": "x@nowhere.org"})
    refused("the plan needs at least 2 clients, the event has 1 participants", rules.start_event, ready, MO, 1, "e", {"col1": DO})
    refused("an event needs at least one participant", rules.start_event, ready, MO, 1, "e", None)


def test_open_event_blocks_changes(ready):
    event(ready)
    refused("training experiment 1 has an open event; close it first", rules.set_plan, ready, MO, 1, {})
    refused("training experiment 1 has an open event; close it first", rules.start_event, ready, MO, 1, "again",
            {"col1": DO, "col2": DO2})
    refused("training experiment 1 has an open event; close it first", rules.associate_ca, ready, MO, 1, 1)


def test_association_approval_and_self_approval(ready):
    apply(ready, rules.submit_aggregator(ready, AO, "agg2", 3, "127.0.0.1", [1, 2]))
    assert apply(ready, rules.associate_aggregator(ready, AO, 2, 1)) == "PENDING"
    assert apply(ready, rules.associate_dataset(ready, DO, 1, 1)) == "PENDING"
    event(ready, {DO2: DO2, "testbo@example.com": "testbo@example.com"})
    refused("training experiment 1 has an open event; close it first", rules.decide_association, ready, MO, "dataset", 1, 1, True)
    apply(ready, rules.close_event(ready, MO, 1, {}))
    assert apply(ready, rules.decide_association(ready, MO, "dataset", 1, 1, True)) == "APPROVED"
    refused("this association is already APPROVED", rules.decide_association, ready, MO, "dataset", 1, 1, True)


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
    refused("dataset 1 is already associated with training experiment 1", rules.associate_dataset, ready, DO, 1, 1)


def test_training_node_rules(ready):
    refused("dataset 1 is not approved for training experiment 1 (not requested); run 'medperf "
            "dataset associate --data_uid 1 --training_exp_uid 1' first", rules.check_train, ready, DO, 1, 1)
    apply(ready, rules.associate_dataset(ready, DO, 1, 1))
    refused("dataset 1 is not approved for training experiment 1 (PENDING)", rules.check_train, ready, DO, 1, 1)
    event(ready)
    assert rules.check_train(ready, DO, 1, 1).value == (1, DO)
    refused("only the owner of aggregator 1 (testmo@example.com) may start it", rules.check_aggregator_start, ready, DO, 1)


def test_kits_are_readable_only_by_their_participant(ready):
    refused("training experiment 1 has no open event", rules.read_kit, ready, DO, 1, "client")
    event(ready)
    assert rules.read_kit(ready, DO, 1, "client").value["blob"] == "c1"
    assert rules.read_kit(ready, DO2, 1, "client").value["blob"] == "c2"
    assert rules.read_kit(ready, MO, 1, "server").value["blob"] == "s"
    refused("only the owner of aggregator 1 (testmo@example.com) may fetch its startup kit",
            rules.read_kit, ready, DO, 1, "server")
    refused("testbo@example.com is not a participant of the open event of training experiment 1",
            rules.read_kit, ready, "testbo@example.com", 1, "client")


def test_a_participant_without_a_kit_is_told_why(ready):
    apply(ready, rules.start_event(ready, MO, 1, "event1", {DO: DO, DO2: DO2, "bo": "testbo@example.com"}))
    refused("training experiment 1 has no startup kit for testbo@example.com (the training config's "
            "mapping.yaml does not name you); the admin runs 'medperf training set_plan'",
            rules.read_kit, ready, "testbo@example.com", 1, "client")


def test_jobs_and_closing(ready):
    refused("training experiment 1 has no open event", rules.submit_job, ready, MO, 1, "j")
    event(ready)
    apply(ready, rules.submit_job(ready, MO, 1, "j1"))
    refused("job j1 was already submitted for this event", rules.submit_job, ready, MO, 1, "j2")
    refused("only the aggregator's owner (testmo@example.com) publishes the federation's progress",
            rules.publish_progress, ready, DO, 1, {})
    apply(ready, rules.close_event(ready, MO, 1, {"complete": True}))
    refused("training experiment 1 has no open event", rules.close_event, ready, MO, 1, {})
    refused("training experiment 1 has no open event", rules.publish_progress, ready, MO, 1, {})


def test_addresses_and_ports(ready):
    refused("address '10.1.2.3' is not a loopback address; medperf-lite runs on one host, use "
            "127.0.0.1", rules.submit_aggregator, ready, MO, "a", 3, "10.1.2.3", [1, 2])
    refused("an aggregator needs two different ports: --port FL_PORT --port ADMIN_PORT",
            rules.submit_aggregator, ready, MO, "a", 3, "127.0.0.1", [1, 1])
    refused("ports must be between 1 and 65535", rules.submit_aggregator, ready, MO, "a", 3, "127.0.0.1", [0, 70000])


def test_duplicate_aggregator_and_names(ready):
    refused("aggregator 1 is already registered at 127.0.0.1 with port(s) [8103]", rules.submit_aggregator,
            ready, AO, "again", 3, "127.0.0.1", [9000, 8103])
    for bad in ("", "tab\tname", "line\nbreak", "x" * 300, None):
        refused("container needs a name of 1 to 256 printable characters", rules.submit_container, ready, MO, bad, {}, None)


def test_users(state):
    refused("'bob' is not an e-mail address", rules.add_user, state, None, "bob")
    refused("'bob@example.com\n' is not an e-mail address", rules.add_user, state, None, "bob@example.com\n")
    refused("user 'testmo@example.com' already exists", rules.add_user, state, None, MO)


def test_experiment_decisions_say_why(state):
    for name in ("prep", "trainer"):
        apply(state, rules.submit_container(state, MO, name, {"image": "i", "tasks": {}}, None))
    apply(state, rules.submit_experiment(state, MO, "e", "d", 2, 3, None))
    state["experiments"][1]["approval_status"] = "PENDING"
    with pytest.raises(Refused, match="^" + re.escape(missing("training experiment 9", "medperf training ls")) + "$"):
        rules.decide_experiment(state, "testadmin@example.com", 9, True)
    with pytest.raises(Refused, match=r"^only the server admin \(testadmin@example\.com\) approves training experiments$"):
        rules.decide_experiment(state, MO, 1, True)
    apply(state, rules.decide_experiment(state, "testadmin@example.com", 1, False))
    with pytest.raises(Refused, match=r"^training experiment 1 is already REJECTED$"):
        rules.decide_experiment(state, "testadmin@example.com", 1, True)


def test_default_participants_are_the_approved_datasets_owners(ready):
    """Without a list, an event's participants are the owners of the experiment's approved
    dataset associations, each labelled by their e-mail; pending ones and other kinds do not count."""
    apply(ready, rules.associate_dataset(ready, DO2, 2, 1))  # PENDING: the experiment's owner has not decided
    apply(ready, rules.associate_dataset(ready, DO, 1, 1))
    refused("an event needs at least one participant", rules.start_event, ready, MO, 1, "e", None)
    apply(ready, rules.decide_association(ready, MO, "dataset", 2, 1, True))
    refused("the plan needs at least 2 clients, the event has 1 participants",  # DO's request is still pending
            rules.start_event, ready, MO, 1, "e", None)
    apply(ready, rules.decide_association(ready, MO, "dataset", 1, 1, True))
    assert rules.event_participants(ready, MO, 1, None).value == {DO: DO, DO2: DO2}
    apply(ready, rules.submit_aggregator(ready, AO, "agg2", 3, "127.0.0.1", [1, 2]))
    apply(ready, rules.associate_aggregator(ready, AO, 2, 1))  # an aggregator's request is no participant
    assert rules.event_participants(ready, MO, 1, None).value == {DO: DO, DO2: DO2}
    eid = apply(ready, rules.start_event(ready, MO, 1, "e", None))
    assert ready["events"][eid]["participants"] == {DO: DO, DO2: DO2}


def test_a_pending_ca_does_not_count(state):
    apply(state, rules.submit_container(state, MO, "p", {"image": "i", "tasks": {}}, None))
    apply(state, rules.submit_experiment(state, MO, "e", "d", 2, 2, None))
    apply(state, rules.submit_aggregator(state, MO, "a", 2, "localhost", [1, 2]))
    apply(state, rules.associate_aggregator(state, MO, 1, 1))
    apply(state, rules.set_plan(state, MO, 1, {}))
    aid = max(state["associations"]) + 1
    state["associations"][aid] = {"kind": "ca", "entity": 1, "experiment": 1, "status": "PENDING", "owner": 3}
    refused("training experiment 1 has no CA; run 'medperf ca associate' first", rules.start_event, state, MO, 1, "e",
            {"col1": DO})
    state["associations"][aid]["status"] = "APPROVED"
    assert rules.event_participants(state, MO, 1, {"col1": DO}).value == {"col1": DO}  # min_clients: 1 by default


def test_participant_labels_are_1_to_256_printable_characters(ready):
    longest = "x" * 256
    assert rules.event_participants(ready, MO, 1, {longest: DO, "b": DO2}).value == {longest: DO, "b": DO2}
    for label in ("x" * 257, "", "tab\there", 7):
        refused(f"participant {label!r}: labels and common names must be printable text (1-256 characters)",
                rules.start_event, ready, MO, 1, "e", {label: DO, "b": DO2})


def test_names_are_unique_per_owner_and_requests_must_exist(ready):
    refused("you already have a container named 'prep'", rules.submit_container, ready, MO, "prep", {}, None)
    assert apply(ready, rules.submit_container(ready, AO, "prep", {"image": "i", "tasks": {}}, None)) == 5
    refused("a training experiment named 'trainexp' already exists", rules.submit_experiment, ready, AO, "trainexp", "d",
            2, 3, None)
    refused("dataset 2 has not asked to join training experiment 1", rules.decide_association, ready, MO, "dataset", 2,
            1, True)
    apply(ready, rules.submit_aggregator(ready, AO, "agg2", 3, "127.0.0.1", [1, 2]))
    refused("aggregator 2 has not asked to join training experiment 1", rules.decide_association, ready, MO,
            "aggregator", 2, 1, True)


# ---------------------------------------------------------------- what the rules write, exactly


def test_records_are_exactly_what_the_rules_write(state):
    """Every record a rule creates, field by field, and every value it returns (the CLI's IDs)."""
    mo, do, ao = (rules.user_id(state, e) for e in (MO, DO, AO))
    config = {"image": "i", "tasks": {}}
    out = rules.submit_container(state, MO, "prep", config, {"p": 1}, "file.yaml")
    assert (out.changes, out.value) == ([("containers", 2, {"name": "prep", "owner": mo, "config": config,
                                                            "parameters": {"p": 1}, "source": "file.yaml",
                                                            "additional": None})], 2)
    apply(state, out)
    apply(state, rules.submit_container(state, MO, "fl", config, None))
    out = rules.submit_experiment(state, MO, "exp", "about", 2, 3, None)
    assert (out.changes, out.value) == ([("experiments", 1, {
        "name": "exp", "description": "about", "owner": mo, "prep": 2, "fl": 3, "fl_admin": None,
        "approval_status": "APPROVED", "state": "DEVELOPMENT", "plan": None, "flow": "nvflare"})], 1)
    apply(state, out)
    out = rules.submit_aggregator(state, AO, "agg", 3, "127.0.0.1", [8102, 8103])
    assert (out.changes, out.value) == ([("aggregators", 1, {"name": "agg", "owner": ao, "container": 3,
                                                             "address": "127.0.0.1", "fl_port": 8102,
                                                             "admin_port": 8103})], 1)
    apply(state, out)
    out = rules.associate_aggregator(state, AO, 1, 1)
    assert (out.changes, out.value) == ([("associations", 1, {"kind": "aggregator", "entity": 1, "experiment": 1,
                                                              "owner": ao, "status": "PENDING"})], "PENDING")
    apply(state, out)
    refused("training experiment 1 has no aggregator; run 'medperf aggregator associate' first",
            rules.set_plan, state, MO, 1, {})  # a pending aggregator is not the experiment's
    apply(state, rules.decide_association(state, MO, "aggregator", 1, 1, True))
    assert rules.check_set_plan(state, MO, 1).value == state["aggregators"][1]
    out = rules.associate_ca(state, MO, 1, 1)
    assert (out.changes, out.value) == ([("associations", 2, {"kind": "ca", "entity": 1, "experiment": 1,
                                                              "owner": mo, "status": "APPROVED"})], "APPROVED")
    apply(state, out)
    out = rules.submit_dataset(state, DO, "ds", "mine", "here", 2, "h1")
    assert (out.changes, out.value) == ([("datasets", 1, {
        "name": "ds", "description": "mine", "location": "here", "owner": do, "prep": 2, "data_hash": "h1",
        "state": "DEVELOPMENT", "prepared": False, "prepare_error": None, "statistics": None})], 1)
    apply(state, out)
    apply(state, rules.set_plan(state, MO, 1, {"min_clients": 1}, {"server": "s", "clients": {DO: "c"}}))
    out = rules.start_event(state, MO, 1, "ev", {"col1": DO})
    assert (out.changes, out.value) == ([
        ("events", 1, {"name": "ev", "experiment": 1, "aggregator": 1, "participants": {"col1": DO},
                       "status": "OPEN", "job_id": None, "progress": None, "report": None,
                           "failures": []}),
        ("experiments", 1, {**state["experiments"][1], "state": "OPERATION"})], 1)
    apply(state, out)
    assert rules.check_aggregator_start(state, AO, 1).value == (1, 1)
    assert rules.check_submit_job(state, MO, 1).value == state["experiments"][1]
    out = rules.submit_job(state, MO, 1, "job-7")
    assert (out.changes, out.value) == ([("events", 1, {**state["events"][1], "job_id": "job-7"})], 1)
    apply(state, out)
    out = rules.publish_progress(state, AO, 1, {"rounds_done": 1})
    assert (out.changes, out.value) == ([("events", 1, {**state["events"][1], "progress": {"rounds_done": 1}})], 1)
    apply(state, out)
    out = rules.close_event(state, MO, 1, {"rounds_done": 3})
    assert (out.changes, out.value) == ([("events", 1, {**state["events"][1], "status": "FINISHED",
                                                        "report": {"rounds_done": 3}})], 1)


def test_an_invitation_approves_pending_requests_only(ready):
    apply(ready, rules.associate_dataset(ready, DO, 1, 1))
    apply(ready, rules.associate_dataset(ready, DO2, 2, 1))
    apply(ready, rules.decide_association(ready, MO, "dataset", 2, 1, False))
    out = rules.start_event(ready, MO, 1, "e", {DO: DO, DO2: DO2})
    assert [c for c in out.changes if c[0] == "associations"] == [
        ("associations", 3, {**ready["associations"][3], "status": "APPROVED"})]  # DO2's rejection stands


def test_missing_things_are_named(ready):
    refused(missing("FL container 9", "medperf container ls"), rules.submit_experiment, ready, MO, "n", "d", 2, 9, None)
    refused(missing("FL admin container 9", "medperf container ls"), rules.submit_experiment, ready, MO, "n", "d", 2, 3, 9)
    refused(missing("aggregation container 9", "medperf container ls"),
            rules.submit_aggregator, ready, MO, "a", 9, "127.0.0.1", [5, 6])
    refused(missing("prep container 9", "medperf container ls"), rules.submit_dataset, ready, DO, "n", "d", "l", 9, "h9")
    refused(missing("aggregator 9", "medperf aggregator ls"), rules.associate_aggregator, ready, MO, 9, 1)
    refused(missing("training experiment 9", "medperf training ls"), rules.associate_aggregator, ready, MO, 1, 9)
    refused(missing("training experiment 9", "medperf training ls"), rules.associate_dataset, ready, DO, 1, 9)
    refused(missing("training experiment 9", "medperf training ls"), rules.check_aggregator_start, ready, MO, 9)
    refused("address 'my-host' is not a loopback address; medperf-lite runs on one host, use 127.0.0.1",
            rules.submit_aggregator, ready, MO, "a", 3, "my-host", [5, 6])


def test_names_are_checked_per_entity(ready):
    longest = "n" * rules.MAX_NAME
    assert apply(ready, rules.submit_container(ready, MO, longest, {"image": "i", "tasks": {}}, None)) == 5
    too_long = "n" * (rules.MAX_NAME + 1)
    for what, fn, args in (
            ("container", rules.submit_container, (MO, too_long, {}, None)),
            ("training experiment", rules.submit_experiment, (AO, too_long, "d", 2, 3, None)),
            ("aggregator", rules.submit_aggregator, (MO, too_long, 3, "127.0.0.1", [5, 6])),
            ("dataset", rules.submit_dataset, (DO, too_long, "d", "l", 2, "h9")),
            ("event", rules.start_event, (MO, 1, too_long, {DO: DO, DO2: DO2}))):
        refused(f"{what} needs a name of 1 to {rules.MAX_NAME} printable characters", fn, ready, *args)


def test_ports_are_1_to_65535(ready):
    assert apply(ready, rules.submit_aggregator(ready, AO, "a", 3, "127.0.0.1", [1, 65535])) == 2
    for ports in ([0, 5], [5, 65536]):
        refused("ports must be between 1 and 65535", rules.submit_aggregator, ready, MO, "b", 3, "127.0.0.1", ports)


def test_one_experiment_waits_for_approval_at_a_time(state):
    apply(state, rules.submit_container(state, AO, "p", {"image": "i", "tasks": {}}, None))
    apply(state, rules.submit_experiment(state, AO, "e", "d", 2, 2, None))
    refused("you already have a training experiment waiting for approval", rules.submit_experiment, state, AO, "f", "d",
            2, 2, None)
    assert apply(state, rules.submit_experiment(state, DO, "g", "d", 2, 2, None)) == 2  # AO's wait is AO's only


def test_only_the_aggregators_owner_publishes_progress(ready):
    event(ready)
    refused("only the aggregator's owner (testmo@example.com) publishes the federation's progress",
            rules.publish_progress, ready, DO, 1, {})


def test_a_missing_server_kit_is_told(ready):
    ready["kits"].clear()
    event(ready)
    refused("training experiment 1 has no startup kit for the aggregator; the admin runs 'medperf training set_plan'",
            rules.read_kit, ready, MO, 1, "server")


def test_dataset_updates_and_new_users_exactly(ready):
    out = rules.add_user(ready, None, "new@example.org")
    assert (out.changes, out.value) == ([("users", 8, {"email": "new@example.org", "is_admin": False})], 8)
    ds = apply(ready, rules.submit_dataset(ready, DO, "fresh", "d", "l", 2, "h5"))
    out = rules.record_prepare(ready, DO, ds, False, None)
    assert (out.changes, out.value) == ([("datasets", ds, {**ready["datasets"][ds], "prepared": False,
                                                           "prepare_error": "preparation failed"})], False)
    out = rules.record_prepare(ready, DO, ds, True, None)
    assert (out.changes, out.value) == ([("datasets", ds, {**ready["datasets"][ds], "prepared": True,
                                                           "prepare_error": None})], True)
    apply(ready, out)
    out = rules.set_operational(ready, DO, ds, {"n": 3})
    assert out.changes == [("datasets", ds, {**ready["datasets"][ds], "state": "OPERATION", "statistics": {"n": 3}})]


def test_an_open_event_blocks_a_new_aggregator_and_a_planless_aggregator_is_named(ready):
    event(ready)
    apply(ready, rules.submit_aggregator(ready, AO, "agg2", 3, "127.0.0.1", [1, 2]))
    refused("training experiment 1 has an open event; close it first", rules.associate_aggregator, ready, AO, 2, 1)
    apply(ready, rules.close_event(ready, MO, 1, {}))
    ready["associations"] = {aid: a for aid, a in ready["associations"].items() if a["kind"] != "aggregator"}
    refused("training experiment 1 has no aggregator; run 'medperf aggregator associate' first", rules.start_event,
            ready, MO, 1, "e", {DO: DO, DO2: DO2})  # the plan stays; the aggregator is gone


def test_an_approved_owner_outside_the_event_may_not_train(ready):
    apply(ready, rules.associate_dataset(ready, DO, 1, 1))
    apply(ready, rules.decide_association(ready, MO, "dataset", 1, 1, True))
    event(ready, {DO2: DO2, "bo": "testbo@example.com"})
    refused("testdo@example.com is not a participant of the open event of training experiment 1", rules.check_train,
            ready, DO, 1, 1)


FIELDS = ("role", "site", "ended", "exit_code", "error", "where", "log", "text")


def test_a_failure_is_recorded_by_a_role_of_the_open_event_exactly(ready):
    refused("training experiment 1 has no open event", rules.record_failure, ready, DO, 1, {"role": "r"})
    event(ready)
    refused("only the aggregator's owner (testmo@example.com) and the event's participants record its failures",
            rules.record_failure, ready, AO, 1, {"role": "r"})
    refused("a failure has only the fields role, site, ended, exit_code, error, where, log, text",
            rules.record_failure, ready, DO, 1, {"role": "r", "bad": 1})
    refused("a failure has only the fields role, site, ended, exit_code, error, where, log, text",
            rules.record_failure, ready, DO, 1, ["role"])
    out = rules.record_failure(ready, DO, 1, {"role": "training node", "exit_code": 3, "error": "x" * 5000})
    entry = {**dict.fromkeys(FIELDS), "role": "training node", "exit_code": "3", "error": "x" * 4000,
             "reported_by": DO}
    assert (out.changes, out.value) == ([("events", 1, {**ready["events"][1], "failures": [entry]})], 1)
    apply(ready, out)
    again = rules.record_failure(ready, DO, 1, {"role": "training node", "exit_code": 3, "error": "x" * 5000})
    assert (again.changes, again.value) == ([], 1)  # the same failure twice: kept once, the event still named
    apply(ready, rules.record_failure(ready, MO, 1, {"text": "the job failed"}))
    assert [f["reported_by"] for f in ready["events"][1]["failures"]] == [DO, MO]
    for i in range(rules.MAX_FAILURES):
        apply(ready, rules.record_failure(ready, DO2, 1, {"text": str(i)}))
    assert len(ready["events"][1]["failures"]) == rules.MAX_FAILURES == 16
    assert ready["events"][1]["failures"][-1]["text"] == "13"


def test_cancel_event_closes_as_cancelled(ready):
    refused("training experiment 1 has no open event", rules.cancel_event, ready, MO, 1, {})
    event(ready)
    refused("only the owner of training experiment 1 (testmo@example.com) may do this", rules.cancel_event,
            ready, DO, 1, {})
    before = dict(ready["events"][1])
    out = rules.cancel_event(ready, MO, 1, {"cancelled": True})
    assert (out.changes, out.value) == ([("events", 1, {**before, "status": "CANCELLED",
                                                         "report": {"cancelled": True}})], 1)
    apply(ready, out)
    refused("training experiment 1 has no open event", rules.cancel_event, ready, MO, 1, {})
    refused("training experiment 1 has no open event", rules.record_failure, ready, MO, 1, {})


def test_a_wrong_id_names_the_listing_of_its_table(state):
    with pytest.raises(Refused) as info:
        rules.get(state, "events", 9, "event")
    assert str(info.value) == missing("event 9", "medperf event ls")
    with pytest.raises(Refused) as info:
        rules.get(state, "users", 9, "user")
    assert str(info.value) == "user 9 does not exist"  # no listing of users in MedPerf's CLI


def test_private_fields_are_seen_by_owner_experiment_owner_and_participants(ready):
    """may_see: a dataset's owner and the owner of an experiment it is associated with (not
    another data owner); an experiment's plan: its owner and its events' participants only."""
    uid = {u["email"]: i for i, u in ready["users"].items()}
    assert rules.may_see(ready, "datasets", 1, uid[DO]) and not rules.may_see(ready, "datasets", 1, uid[DO2])
    assert not rules.may_see(ready, "datasets", 1, uid[MO])  # not associated yet
    apply(ready, rules.associate_dataset(ready, DO, 1, 1))
    assert rules.may_see(ready, "datasets", 1, uid[MO]) and not rules.may_see(ready, "datasets", 1, uid[AO])
    assert rules.may_see(ready, "experiments", 1, uid[MO]) and not rules.may_see(ready, "experiments", 1, uid[DO])
    event(ready)
    assert rules.may_see(ready, "experiments", 1, uid[DO]) and rules.may_see(ready, "experiments", 1, uid[DO2])
    assert not rules.may_see(ready, "experiments", 1, uid[AO])


def test_a_failure_may_carry_every_field(ready):
    event(ready)
    out = rules.record_failure(ready, DO, 1, {key: key for key in FIELDS})
    assert out.changes[0][2]["failures"] == [{**{key: key for key in FIELDS}, "reported_by": DO}]


def test_set_plan_keeps_each_clients_site_name_and_checks_it(state):
    for name in ("prep", "trainer", "trainadmin"):
        apply(state, rules.submit_container(state, MO, name, {"image": "i", "tasks": {}}, None))
    apply(state, rules.submit_experiment(state, MO, "trainexp", "d", 2, 3, 4))
    apply(state, rules.submit_aggregator(state, MO, "agg", 3, "127.0.0.1", [8102, 8103]))
    apply(state, rules.associate_aggregator(state, MO, 1, 1))
    for site in ("", "a\x00b", "x" * 257):
        refused("site needs a name of 1 to 256 printable characters", rules.set_plan, state, MO, 1, {},
                {"server": "s", "clients": {DO: "c1"}, "sites": {DO: site}})
    out = rules.set_plan(state, MO, 1, {}, {"server": "s", "clients": {DO: "c1", DO2: "c2"}, "sites": {DO: "site-1"}})
    kits = [record for table, _, record in out.changes if table == "kits"]
    assert kits == [{"experiment": 1, "role": "server", "email": None, "blob": "s", "site": None},
                    {"experiment": 1, "role": "client", "email": DO2, "blob": "c2", "site": None},
                    {"experiment": 1, "role": "client", "email": DO, "blob": "c1", "site": "site-1"}]


def test_submitted_records_keep_every_field(state):
    out = rules.submit_container(state, MO, "fl", {"image": "i"}, {"p": 1}, "src", "blob")
    assert out.changes == [("containers", 2, {"name": "fl", "owner": rules.user_id(state, MO), "config": {"image": "i"},
                                              "parameters": {"p": 1}, "source": "src", "additional": "blob"})]
    apply(state, out)
    for name in ("fl2", "adm"):
        apply(state, rules.submit_container(state, MO, name, {"image": "i"}, None))
    out = rules.submit_experiment(state, MO, "exp", "d", 2, 3, 4)
    record = out.changes[0][2]
    assert (record["prep"], record["fl"], record["fl_admin"], record["flow"]) == (2, 3, 4, "nvflare")
    refused("unknown flow 'openfl'", rules.submit_experiment, state, MO, "exp", "d", 2, 3, 4, "openfl")
    refused("aggregator 9 does not exist; `medperf aggregator ls` lists the IDs",
            rules.submit_experiment, state, MO, "exp", "d", 2, 3, 4, "flower", 9)
