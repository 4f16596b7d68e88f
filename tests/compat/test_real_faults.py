"""Injected faults with MedPerf's own node and admin containers, which publish nothing: the
run ends with the cause named from processes and logs alone (simulator.faults)."""

import re
from pathlib import Path

import pytest

from medperf_lite.simulator import faults
from tests.compat.conftest import EXAMPLES, LAUNCH_FLAKE

pytestmark = pytest.mark.slow
REAL_SCENARIO = Path(__file__).parent / "real_tutorial.yaml"
CAUSES = {  # what MedPerf's containers show: their learner's traceback, NVFlare's job process exit, the task's exit
    "train_error": r"NameError: name 'weight_decay_factor' is not defined, at scripts/learners\.py:\d+",
    "job_killed": r"child worker process finished with RC -?[1-9]",
    "node_exits": r"site testdo@example\.com.*exit code 7.*node: cannot open the dataset",
}




@pytest.mark.parametrize("fault", sorted(CAUSES))
def test_a_fault_in_medperfs_containers_is_named(fault, tmp_path):
    report = faults.play(fault, tmp_path / fault, source=EXAMPLES, scenario_name=str(REAL_SCENARIO))
    if report["to_failure"] is None and LAUNCH_FLAKE in ((report["failed"] or {}).get("detail") or ""):
        report = faults.play(fault, tmp_path / f"{fault}-again", source=EXAMPLES, scenario_name=str(REAL_SCENARIO))
    failed = report["failed"]
    assert failed is not None and "timed out" not in failed["detail"], failed
    assert re.search(CAUSES[fault], failed["detail"], re.DOTALL), failed["detail"]
    assert not report["orphans"] and report["to_failure"] is not None
