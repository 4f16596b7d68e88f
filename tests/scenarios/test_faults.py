"""Injected faults end the tutorial within seconds, with the cause named (simulator.faults):
the tests assert the cause, never a time (bench/faults.py measures the seconds)."""

import re

import pytest

from medperf_lite.simulator import faults

pytestmark = pytest.mark.slow

CAUSES = {
    "train_error": r"NameError: name 'weight_decay_factor' is not defined, at custom/train\.py:\d+",
    "job_killed": r"site testdo2@example\.com.*job process of job [\w-]+ ended",
    "node_exits": r"site testdo@example\.com.*exit code 7.*node: cannot open the dataset",
    "min_clients": r"RuntimeError: the job needs 3 sites, only 2 joined within 5 s: col1, col2, "
                   r"at custom/medperf_fedavg\.py:\d+",
    "aggregator_killed": r"role 'aggregator'.*(killed by signal 9|exit code)",
}


@pytest.mark.parametrize("fault", faults.FAULTS)
def test_a_fault_ends_the_tutorial_with_its_cause(fault, tmp_path):
    report = faults.play(fault, tmp_path / fault)
    failed = report["failed"]
    assert not report["passed"] and failed is not None, f"{fault}: the run passed"
    assert failed["name"] != "interrupted" and "timed out" not in failed["detail"], failed["detail"]
    assert re.search(CAUSES[fault], failed["detail"], re.DOTALL), failed["detail"]
    assert failed["failures"] and all(f["text"] for f in failed["failures"])
    assert re.search(CAUSES[fault], (tmp_path / fault / "report.md").read_text(), re.DOTALL)
    assert not report["orphans"]
    assert report["to_failure"] is not None, "the fault was never seen"


def test_the_event_records_the_failure_and_the_admins_status_shows_it(tmp_path):
    from tests.helpers import medperf

    report = faults.play("train_error", tmp_path / "run")
    (event,) = report["events"]
    assert event["status"] == "OPEN" and any("NameError" in text for text in event["failures"])
    status = medperf("training get_experiment_status -t 1", tmp_path / "run" / "home", user="testmo@example.com")
    assert status.returncode == 1 and "The event records" in status.stderr
    assert re.search(CAUSES["train_error"], status.stderr), status.stderr
