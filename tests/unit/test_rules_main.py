"""MedPerf main's flow (Flower) in the rules: set_aggregator, the global CA and its fingerprint,
certificates on the server, cols.yaml, no plan change in OPERATION (pure: no I/O)."""

import pytest

from medperf_lite import rules, world
from medperf_lite.errors import Forbidden, Refused
from tests.unit.test_rules import AO, DO, DO2, MO, apply, refused


@pytest.fixture
def main(state):
    """Main's flow up to set_plan, two operational datasets: no CA association, no kits."""
    for name in ("prep", "fl", "fl_admin"):
        apply(state, rules.submit_container(state, MO, name, {"image": "i", "tasks": {}}, None))
    apply(state, rules.submit_experiment(state, MO, "exp", "d", 2, 3, 4, "flower"))
    apply(state, rules.submit_aggregator(state, AO, "agg", 3, "127.0.0.1", [50273, 50274]))
    assert apply(state, rules.set_aggregator(state, MO, 1, 1)) == 1
    apply(state, rules.set_plan(state, MO, 1, {"min_clients": 2, "num_rounds": 2}))
    for owner, digest in ((DO, "h1"), (DO2, "h2")):
        ds = apply(state, rules.submit_dataset(state, owner, "ds", "d", "here", 2, digest))
        apply(state, rules.record_prepare(state, owner, ds, True, None))
        apply(state, rules.set_operational(state, owner, ds, {}))
    return state


def test_the_seeded_ca_is_the_built_in_one_with_its_fingerprint(state):
    ca = state["cas"][1]
    assert ca["fingerprint"] == world.ca_fingerprint() == ca["config"]["fingerprint"]
    assert (ca["ca_container"], ca["client_container"], ca["server_container"]) == (1, 1, 1)
    assert state["containers"][1]["config"]["image"] == "medperf-lite/ca:0.1.0"
    assert rules.trusted_ca(state, DO, 1, world.ca_fingerprint()).value is ca
    refused("CA 1's fingerprint does not match your profile's certificate_authority_fingerprint; it is not the CA you "
            "trust", rules.trusted_ca, state, DO, 1, "fingerprint")
    refused("CA 9 does not exist; `medperf ca ls` lists the IDs", rules.trusted_ca, state, DO, 9, world.ca_fingerprint())


def test_set_aggregator_is_mains_and_the_experiment_owners(main):
    refused("training experiment 1 follows MedPerf main's flow (Flower), where 'aggregator associate' does not exist",
            rules.associate_aggregator, main, MO, 1, 1)
    refused("training experiment 1 follows MedPerf main's flow (Flower), where 'ca associate' does not exist",
            rules.associate_ca, main, MO, 1, 1)
    with pytest.raises(Forbidden):
        rules.set_aggregator(main, AO, 1, 1)
    refused("aggregator 7 does not exist; `medperf aggregator ls` lists the IDs", rules.set_aggregator, main, MO, 1, 7)
    assert rules.experiment_aggregator(main, 1) == 1


def test_an_nvflare_experiment_has_no_set_aggregator(state):
    apply(state, rules.submit_container(state, MO, "prep", {"image": "i", "tasks": {}}, None))
    apply(state, rules.submit_experiment(state, MO, "exp", "d", 2, 2, None))
    apply(state, rules.submit_aggregator(state, MO, "agg", 2, "127.0.0.1", [8102, 8103]))
    refused("training experiment 1 follows MedPerf's NVFlare flow, where 'training set_aggregator' does not exist",
            rules.set_aggregator, state, MO, 1, 1)
    refused("--aggregator is MedPerf main's; in the NVFlare flow run 'medperf aggregator associate'",
            rules.submit_experiment, state, DO, "e2", "d", 2, 2, None, "nvflare", 1)


def test_main_without_an_aggregator_names_set_aggregator(state):
    apply(state, rules.submit_container(state, MO, "prep", {"image": "i", "tasks": {}}, None))
    apply(state, rules.submit_experiment(state, MO, "exp", "d", 2, 2, None, "flower"))
    refused("training experiment 1 has no aggregator; run 'medperf training set_aggregator' first",
            rules.check_set_plan, state, MO, 1)
    apply(state, rules.submit_aggregator(state, AO, "agg", 2, "127.0.0.1", [8102, 8103]))
    apply(state, rules.submit_experiment(state, DO, "exp2", "d", 2, 2, None, "flower", 1))  # -g at submission
    assert state["experiments"][2]["aggregator"] == 1


def test_an_event_needs_no_ca_association_keeps_development_and_a_unique_name(main):
    participants = {DO: DO, DO2: DO2}
    eid = apply(main, rules.start_event(main, MO, 1, "ev", participants))
    assert main["experiments"][1]["state"] == rules.DEVELOPMENT  # main's server does not move it
    refused("training experiment 1 has an open event; close it first", rules.set_aggregator, main, MO, 1, 1)
    refused("training experiment 1 has an open event; close it first", rules.check_set_plan, main, MO, 1)
    refused("training experiment 1 follows MedPerf main's flow (Flower), where 'training submit_job' does not exist",
            rules.submit_job, main, MO, 1, "j")
    refused("training experiment 1 follows MedPerf main's flow (Flower), where 'startup kits' does not exist",
            rules.read_kit, main, DO, 1, "client")
    apply(main, rules.close_event(main, MO, 1, {"IsDone": 1}))
    refused("an event named 'ev' already exists", rules.start_event, main, MO, 1, "ev", participants)
    assert apply(main, rules.start_event(main, MO, 1, "ev2", participants)) == eid + 1


def test_main_has_no_kits(main):
    refused("MedPerf main's flow has no startup kits", rules.set_plan, main, MO, 1, {}, {"server": "s"})


def test_the_experiment_owners_own_dataset_is_approved_at_once(main):
    ds = apply(main, rules.submit_dataset(main, MO, "mine", "d", "here", 2, "h3"))
    apply(main, rules.record_prepare(main, MO, ds, True, None))
    apply(main, rules.set_operational(main, MO, ds, {}))
    assert apply(main, rules.associate_dataset(main, MO, ds, 1)) == rules.APPROVED
    assert apply(main, rules.associate_dataset(main, DO, 1, 1)) == rules.PENDING  # no event: the owner decides


def test_one_valid_certificate_per_user_ca_and_key_type(state):
    cid = apply(state, rules.submit_certificate(state, DO, 1, "EC", "UEVN", "n1"))
    assert state["certificates"][cid] == {"owner": rules.user_id(state, DO), "name": "n1", "ca": 1, "key_type": "EC",
                                          "content": "UEVN", "is_valid": True}
    refused("you already have a valid EC certificate on the server; run 'medperf certificate delete_client_certificate "
            "--key_type EC' first", rules.submit_certificate, state, DO, 1, "EC", "UEVO", "n2")
    assert apply(state, rules.submit_certificate(state, DO, 1, "RSA", "UEVO", "n2")) == cid + 1
    assert apply(state, rules.submit_certificate(state, DO2, 1, "EC", "UEVP", "n3")) == cid + 2
    refused("key type 'DSA' is not one of RSA, EC", rules.submit_certificate, state, DO, 1, "DSA", "x", "n4")
    refused("CA 5 does not exist; `medperf ca ls` lists the IDs", rules.submit_certificate, state, DO, 5, "EC", "x", "n4")
    refused("a certificate is its PEM in base64, at most 64 KiB", rules.submit_certificate, state, AO, 1, "EC", "", "n")
    assert apply(state, rules.invalidate_certificate(state, DO, 1, "EC")) == cid
    assert state["certificates"][cid]["is_valid"] is False
    assert rules.invalidate_certificate(state, DO, 1, "EC").changes == []  # nothing valid left: no change
    assert apply(state, rules.submit_certificate(state, DO, 1, "EC", "UEVR", "n5")) == cid + 3


def test_cols_yaml_names_each_participants_signing_certificate(main):
    apply(main, rules.start_event(main, MO, 1, "ev", {"col1": DO, "col2": DO2}))
    apply(main, rules.submit_certificate(main, DO, 1, "EC", "Q0VSVDE=", "a"))
    apply(main, rules.submit_certificate(main, DO2, 1, "RSA", "UlNB", "b"))  # not a signing certificate
    refused(f"No signing certificate found for participant col2 ({DO2}); they run 'medperf certificate "
            "get_client_certificate --key_type EC' and 'medperf certificate submit_client_certificate --key_type EC'",
            rules.collaborators, main, AO, 1, 1)
    apply(main, rules.submit_certificate(main, DO2, 1, "EC", "Q0VSVDI=", "c"))
    assert rules.collaborators(main, AO, 1, 1).value == {"col1": {"email": DO, "certificate": "Q0VSVDE="},
                                                         "col2": {"email": DO2, "certificate": "Q0VSVDI="}}
    with pytest.raises(Forbidden):
        rules.collaborators(main, DO, 1, 1)  # the aggregator's owner's only


def test_a_ca_needs_a_fingerprint_and_its_containers(state):
    refused("a CA's config needs a 'fingerprint' (MedPerf's ca_config.json)", rules.submit_ca, state, MO, "ca",
            {"address": "x"}, 1, 1, 1)
    refused("client certificate container 9 does not exist; `medperf container ls` lists the IDs", rules.submit_ca,
            state, MO, "ca", {"fingerprint": "f"}, 1, 9, 1)
    refused("a CA named 'MedPerf CA' already exists", rules.submit_ca, state, MO, "MedPerf CA", {"fingerprint": "f"},
            1, 1, 1)
    for args in ((9, 1, 1), (1, 1, 9)):
        what = "CA container 9" if args[0] == 9 else "server certificate container 9"
        refused(f"{what} does not exist; `medperf container ls` lists the IDs", rules.submit_ca, state, MO, "ca",
                {"fingerprint": "f"}, *args)
    for config in ("fingerprint", {"fingerprint": ""}, {"fingerprint": 7}):
        refused("a CA's config needs a 'fingerprint' (MedPerf's ca_config.json)", rules.submit_ca, state, MO, "ca",
                config, 1, 1, 1)
    refused(f"CA needs a name of 1 to {rules.MAX_NAME} printable characters", rules.submit_ca, state, MO, "",
            {"fingerprint": "f"}, 1, 1, 1)
    with pytest.raises(Refused):
        rules.submit_ca(state, "nobody@example.com", "ca", {"fingerprint": "f"}, 1, 1, 1)
    apply(state, rules.submit_container(state, MO, "client", {"image": "i", "tasks": {}}, None))
    apply(state, rules.submit_container(state, MO, "server", {"image": "i", "tasks": {}}, None))
    config = {"fingerprint": "fingerprint", "address": "https://127.0.0.1", "port": 443}
    assert apply(state, rules.submit_ca(state, AO, "mock", config, 1, 2, 3)) == 2
    assert state["cas"][2] == {"name": "mock", "owner": rules.user_id(state, AO), "config": config,
                               "fingerprint": "fingerprint", "ca_container": 1, "client_container": 2,
                               "server_container": 3, "address": "https://127.0.0.1", "port": 443}
    assert rules.trusted_ca(state, DO, 2, "fingerprint").value["name"] == "mock"
    assert rules.submit_ca(state, MO, "third", {"fingerprint": "g"}, 1, 1, 1).changes[0][2]["address"] is None


def test_refusals_leave_no_record(main):
    before = {t: dict(v) for t, v in main.items()}
    for fn, args in ((rules.set_aggregator, (DO, 1, 1)), (rules.submit_certificate, (DO, 1, "X", "c", "n"))):
        with pytest.raises((Refused, Forbidden)):
            fn(main, *args)
    assert main == before


def test_the_server_seeds_another_ca_as_ca_1_only_while_fresh(state):
    """tutorial init --containers: MedPerf main's mock CA replaces CA 1 and its container, as
    MedPerf's local server seeds it; by the server only, before experiments or certificates."""
    mock = {"address": "https://127.0.0.1:8443", "port": 8443, "fingerprint": "fingerprint"}  # not CA 1's
    config = {"image": "mlcommons/medperf-test-ca:0.0.2", "tasks": {"trust": {}}}
    refused("only the server seeds its CA", rules.seed_ca, state, MO, "mock_cert", config, mock)
    for ca_config in ({"fingerprint": ""}, {"fingerprint": 5}, "fingerprint"):
        refused("a CA's config needs a 'fingerprint' (MedPerf's ca_config.json)", rules.seed_ca, state, None, "m",
                config, ca_config)
    refused("the CA's container config has no tasks", rules.seed_ca, state, None, "m", {"image": "x"}, mock)
    assert apply(state, rules.seed_ca(state, None, "mock_cert", config, mock)) == 1
    ca, container = state["cas"][1], state["containers"][1]
    assert (ca["name"], ca["fingerprint"], ca["config"], ca["address"], ca["port"]) == \
           ("mock_cert", "fingerprint", mock, "https://127.0.0.1:8443", 8443)
    assert (ca["ca_container"], ca["client_container"], ca["server_container"], ca["owner"]) == (1, 1, 1, 1)
    assert (container["name"], container["config"], container["owner"]) == ("mock_cert", config, 1)
    assert rules.trusted_ca(state, DO, 1, "fingerprint").value is ca
    apply(state, rules.submit_certificate(state, DO, 1, "EC", "UEVN", "n1"))
    refused("this server already holds experiments or certificates of its CA; use a new home for another CA",
            rules.seed_ca, state, None, "other", config, mock)


def test_an_aggregator_at_a_site_address_only_while_its_run_lives(state):
    apply(state, rules.submit_container(state, MO, "fl", {"image": "i", "tasks": {}}, None))
    refused("address '10.213.0.2' is not a loopback address; medperf-lite runs on one host, use 127.0.0.1",
            rules.submit_aggregator, state, AO, "a", 2, "10.213.0.2", [1, 2])
    refused("address '10.213.0.3' is not a loopback address or a site address of a run medperf-lite is playing; "
            "medperf-lite runs on one host, use 127.0.0.1",
            rules.submit_aggregator, state, AO, "a", 2, "10.213.0.3", [1, 2], frozenset({"10.213.0.2"}))
    assert apply(state, rules.submit_aggregator(state, AO, "a", 2, "10.213.0.2", [1, 2],
                                                frozenset({"10.213.0.2"}))) == 1
    assert state["aggregators"][1]["address"] == "10.213.0.2"


def test_a_flows_own_command_on_a_missing_experiment_names_the_listing(state):
    """The kits (NVFlare's) and cols.yaml (main's) check the flow first: an unknown ID is named
    there, with the listing that shows the IDs."""
    message = "training experiment 9 does not exist; `medperf training ls` lists the IDs"
    refused(message, rules.read_kit, state, DO, 9, "client")
    refused(message, rules.collaborators, state, AO, 9, 1)


def test_cols_yaml_is_mains_a_label_is_a_site_name_and_a_certificate_is_bounded(state):
    apply(state, rules.submit_container(state, MO, "prep", {"image": "i", "tasks": {}}, None))
    apply(state, rules.submit_experiment(state, MO, "exp", "d", 2, 2, None))
    refused("training experiment 1 follows MedPerf's NVFlare flow, where 'cols.yaml' does not exist",
            rules.collaborators, state, AO, 1, 1)
    apply(state, rules.submit_aggregator(state, MO, "agg", 2, "127.0.0.1", [8102, 8103]))
    apply(state, rules.associate_aggregator(state, MO, 1, 1))
    apply(state, rules.associate_ca(state, MO, 1, 1))
    apply(state, rules.set_plan(state, MO, 1, {}))
    for label in ("a..b", "-a"):
        refused(f"participant label {label!r}: a label is a site's name (MedPerf's are e-mails): letters, digits and "
                ". _ @ + -, starting with a letter or digit", rules.start_event, state, MO, 1, "ev", {label: DO})
    largest = "A" * (64 * 1024)
    assert apply(state, rules.submit_certificate(state, DO, 1, "EC", largest, "c")) == 1
    for content in (largest + "A", "", None):
        refused("a certificate is its PEM in base64, at most 64 KiB",
                rules.submit_certificate, state, DO2, 1, "EC", content, "c")
    refused("certificate needs a name of 1 to 256 printable characters",
            rules.submit_certificate, state, DO2, 1, "EC", "Q0VSVA==", "")
