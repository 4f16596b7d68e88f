"""Scenario files are checked at load: a typo is an error naming the file, step and key."""

import json
import shutil

import pytest
import yaml

from medperf_lite.errors import MedperfError
from medperf_lite.simulator import scenario, schema
from medperf_lite.simulator.scenario import SCENARIOS
from tests.helpers import REPO, medperf

SHIPPED = sorted(SCENARIOS.glob("*.yaml"))


def write(tmp_path, steps, **top):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({"name": "s", "steps": steps, **top}))
    return path


TYPOS = {
    "mistyped expect key": ([{"run": "true", "expect": {"outptu": "x"}}], "step 1 \\(run\\): 'expect.outptu'"),
    "mistyped step key": ([{"run": "true", "expext": {"exit": 3}}], "step 1 \\(run\\): 'expext'"),
    "log wait without role": ([{"wait": {"log": "x"}}], "step 1 \\(wait\\): .*needs the 'role'"),
    "unknown comparator": ([{"check": {"table": "events", "id": 1, "path": "status", "equls": "x"}}],
                           "'check.equls'"),
    "two comparators": ([{"check": {"table": "events", "id": 1, "equals": 1, "gte": 0}}], "at most one comparator"),
    "unknown step kind": ([{"sleep": 3}], "step 1: give exactly one of run, start"),
    "start without role": ([{"start": "sleep 1"}], "step 1 \\(start\\): 'role'"),
    "wrong type": ([{"run": "true", "expect": {"exit": [1]}}], "step 1 \\(run\\): 'expect.exit"),
    "two kinds in one step": ([{"run": "true", "kill": "x"}], "give exactly one of"),
    "unknown signal": ([{"kill": "a", "signal": "HUP"}], "'signal'"),
}


@pytest.mark.parametrize("case", sorted(TYPOS))
def test_typos_fail_to_load_naming_the_key(case, tmp_path):
    steps, message = TYPOS[case]
    path = write(tmp_path, steps)
    with pytest.raises(MedperfError, match=message) as info:
        scenario.load(str(path))
    assert str(path) in info.value.message and "\n" not in info.value.message


def test_mistyped_top_level_and_final_checks(tmp_path):
    with pytest.raises(MedperfError, match="'chekcs'"):
        scenario.load(str(write(tmp_path, [{"run": "true"}], chekcs=[])))
    with pytest.raises(MedperfError, match="'checks.0.matchs'"):
        scenario.load(str(write(tmp_path, [{"run": "true"}], checks=[{"table": "t", "id": 1, "matchs": "x"}])))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_every_shipped_scenario_loads(path):
    assert scenario.load(str(path)).steps


def test_scenario_check_command(tmp_path):
    ok = medperf("scenario check " + " ".join(str(p) for p in SHIPPED), tmp_path / "home")
    assert ok.returncode == 0 and ok.stdout.count("ok: ") == len(SHIPPED), ok.stderr
    bad = medperf(f"scenario check {write(tmp_path, [{'run': 'true', 'expext': {}}])}", tmp_path / "home")
    assert bad.returncode == 1 and "'expext'" in bad.stdout and bad.stderr.startswith("Error: 1 of 1")


def test_the_shipped_json_schema_is_current():
    shipped = json.loads((REPO / "scenarios" / "scenario.schema.json").read_text())
    assert shipped == schema.schema(), "run: medperf-lite scenario schema > scenarios/scenario.schema.json"


def test_flower_tutorial_plays_its_medperf_variant_only_with_an_fl_container_not_ours(tmp_path):
    from medperf_lite.files import FIXTURES
    from medperf_lite.simulator.scenario import Overrides

    plan = scenario.load("flower_tutorial")
    assert plan.with_their_fl == "flower_tutorial_medperf"
    assert scenario.load(str(SCENARIOS / "flower_tutorial_medperf.yaml")).flow == "flower"
    ours = FIXTURES / "containers" / "flower_node"
    assert Overrides().their_fl("flower") is None
    assert Overrides(containers={"fl": ours, "prep": tmp_path}).their_fl("flower") is None
    assert Overrides(containers={"fl": tmp_path}).their_fl("flower") == tmp_path.resolve()
    changed = tmp_path / "changed"  # a copy of ours, as the fault tests make, stays ours
    shutil.copytree(ours, changed)
    assert Overrides(containers={"fl": changed}).their_fl("flower") is None
    (changed / "container_config.yaml").write_text("image: [unreadable\n")
    assert Overrides(containers={"fl": changed}).their_fl("flower") == changed.resolve()
    assert Overrides(containers={"trainer": tmp_path}).their_fl("flower") is None  # the NVFlare flow's role
    main = REPO.parent / "shared" / "medperf-examples-main"
    if (main / "examples" / "flower" / "fl").is_dir():  # MedPerf main's layout, found under --containers
        assert Overrides(source=main).their_fl("flower") == (main / "examples" / "flower" / "fl").resolve()
        assert Overrides(source=main, containers={"fl": ours}).their_fl("flower") is None
    broken = write(tmp_path, [{"run": "true"}], with_their_fl="nowhere")
    with pytest.raises(MedperfError, match="with_their_fl names nowhere.yaml, which is not beside it"):
        scenario.load(str(broken))
