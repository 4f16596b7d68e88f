"""Failure paths of the federated commands, through the real CLI."""

import pytest

from tests.helpers import PORTS, medperf
from tests.scenarios.test_tutorial_sections import DO, DO2, MO, admin_setup, run_ok


@pytest.fixture
def event_open(workspace, home):
    admin_setup(home, workspace)
    run_ok("training start_event --name event1 --training_exp_id 1 "
           "--participants_list_file medperf_tutorial/cols_list.yaml -y", home, workspace)
    for ds, (user, site) in enumerate([(DO, "col1"), (DO2, "col2")], start=1):
        run_ok(f"dataset submit -p 2 -d medperf_tutorial/{site} -l medperf_tutorial/{site} -n {site} "
               "--description d --location here -y", home, workspace, user=user)
        run_ok(f"dataset prepare -d {ds}", home, workspace, user=user)
        run_ok(f"dataset set_operational -d {ds} -y", home, workspace, user=user)
        run_ok(f"dataset associate -d {ds} -t 1 -y", home, workspace, user=user)
    return workspace


@pytest.fixture
def workspace(workspace):
    """The tutorial's workspace with our node container's aggregator timeout at 8 s."""
    (workspace / "medperf_tutorial" / "training_config" / "node_settings.yaml").write_text("aggregator_timeout: 8\n")
    return workspace


def test_training_node_without_aggregator_gives_up_in_bounded_time(event_open, home):
    result = medperf("dataset train -d 1 -t 1 -y", home, user=DO, cwd=event_open)
    assert result.returncode != 0
    assert "was unreachable for 8 s; giving up" in result.stderr + result.stdout
    assert result.stderr.strip().splitlines()[-1].startswith("Error: task 'train'")


def test_a_data_owner_cannot_use_anothers_dataset_or_kit(event_open, home):
    result = medperf("dataset train -d 1 -t 1 -y", home, user=DO2, cwd=event_open)
    assert result.returncode != 0 and "only the owner of dataset 1" in result.stderr


def test_tampered_kit_is_refused(event_open, home):
    import json

    state = json.loads((home / "server" / "db.json").read_text())
    kit = next(k for k in state["kits"].values() if k["email"] == DO)
    blob = home / "server" / "blobs" / kit["blob"]
    blob.write_bytes(blob.read_bytes()[:-10] + b"0123456789")
    result = medperf("dataset train -d 1 -t 1 -y", home, user=DO, cwd=event_open)
    assert result.returncode != 0 and "tampered" in result.stderr


def test_submit_job_without_event_and_closing_twice(workspace, home):
    admin_setup(home, workspace)
    result = medperf("training submit_job --training_exp_id 1", home, user=MO, cwd=workspace)
    assert result.returncode != 0 and "has no open event" in result.stderr
    run_ok("training start_event -n e1 -t 1 -p medperf_tutorial/cols_list.yaml -y", home, workspace, user=MO)
    db = home / "server" / "db.json"
    before = db.read_bytes()
    closing = medperf("training close_event -t 1 -y", home, user=MO, cwd=workspace)  # no aggregator to stop
    assert closing.returncode == 1 and db.read_bytes() == before
    assert closing.stderr.startswith("Error: stopping the federation failed, the event stays open: the aggregator at")
    assert "'medperf training cancel_event --training_exp_id 1'" in closing.stderr
    run_ok("training cancel_event -t 1 -y", home, workspace, user=MO)
    for command in ("close_event", "cancel_event"):
        again = medperf(f"training {command} -t 1 -y", home, user=MO, cwd=workspace)
        assert again.returncode != 0 and "has no open event" in again.stderr


def test_address_must_be_loopback(workspace, home):
    admin_setup(home, workspace)
    result = medperf("aggregator submit -n a -m 3 -a 192.168.1.5 --port 1 --port 2", home, user=MO, cwd=workspace)
    assert result.returncode != 0 and "use 127.0.0.1" in result.stderr
    run_ok("training start_event -n e1 -t 1 -p medperf_tutorial/cols_list.yaml -y", home, workspace, user=MO)
    result = medperf("aggregator start -t 1 --publish_on 0.0.0.0", home, user=MO, cwd=workspace)
    assert result.returncode != 0 and "use 127.0.0.1" in result.stderr


def test_aggregator_port_taken_is_a_clear_error(workspace, home):
    import socket

    admin_setup(home, workspace)
    run_ok("training start_event -n e1 -t 1 -p medperf_tutorial/cols_list.yaml -y", home, workspace, user=MO)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", PORTS[0]))
        taken.listen()
        result = medperf("aggregator start -t 1 --publish_on 127.0.0.1", home, user=MO, cwd=workspace, timeout=120)
    assert result.returncode != 0 and f"port 127.0.0.1:{PORTS[0]} is already taken" in result.stderr + result.stdout
