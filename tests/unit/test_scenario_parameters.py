"""Scenarios take parameters, not the tutorial's constants: data owners repeat from one number,
each owner's data and the plan's rounds are variables, and a wrong one is a one-line error
naming the file and line."""

import json
import re

import pytest
import yaml

from medperf_lite.commands import tutorial
from medperf_lite.errors import MedperfError
from medperf_lite.simulator import scenario, schema
from medperf_lite.simulator.scenario import SCENARIOS
from tests.helpers import medperf


def write(tmp_path, steps, **top):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({"name": "s", "steps": steps, **top}, sort_keys=False))
    return path


OWNER_BLOCK = {"repeat": "owners", "steps": [{"run": "echo {{K}} {{SITE}} {{OWNER_DATA}}", "user": "{{EMAIL}}",
                                              "name": "{{SITE}} joins"}]}


def test_a_repeat_block_runs_once_per_owner_with_their_values(tmp_path):
    loaded = scenario.load(str(write(tmp_path, [{"run": "true"}, OWNER_BLOCK])), {"OWNERS": 5})
    block = loaded.steps[1:]
    sites = tutorial.owners(5)
    assert [s.spec["user"] for s in block] == list(sites.values())
    assert [s.spec["run"] for s in block] == [f"echo {k} col{k} {{{{DATA{k}}}}}" for k in range(1, 6)]
    assert [s.name for s in block] == [f"col{k} joins" for k in range(1, 6)]
    assert [s.index for s in loaded.steps] == list(range(1, 7)) and loaded.owners == 5 and loaded.repeats
    assert all(s.group is None and s.lane is None for s in loaded.steps)  # not 'together': one after another


def test_the_default_is_the_tutorials_two_owners_and_from_skips_the_first(tmp_path):
    path = write(tmp_path, [{**OWNER_BLOCK, "from": 2}], vars={"OWNERS": 3})
    assert [s.spec["user"] for s in scenario.load(str(path)).steps] == list(tutorial.owners(3).values())[1:]
    two = scenario.load(str(write(tmp_path, [OWNER_BLOCK])))
    assert [s.spec["user"] for s in two.steps] == ["testdo@example.com", "testdo2@example.com"]


def test_together_blocks_form_one_group_with_a_lane_per_owner(tmp_path):
    loaded = scenario.load(str(write(tmp_path, [{**OWNER_BLOCK, "together": True}, {**OWNER_BLOCK, "together": True}])),
                           {"OWNERS": 3})
    assert [(s.group, s.lane) for s in loaded.steps] == [(1, 1), (1, 2), (1, 3), (2, 1), (2, 2), (2, 3)]


BAD_BLOCKS = {
    "a block inside a block": ([{"repeat": "owners", "steps": [OWNER_BLOCK]}], "a repeat block inside another one"),
    "a start in a together block": ([{"repeat": "owners", "together": True, "steps": [{"start": "x", "role": "r"}]}],
                                    "holds run steps only"),
    "repeat over something else": ([{"repeat": "sites", "steps": [{"run": "x"}]}], "'repeat'"),
    "no steps": ([{"repeat": "owners", "steps": []}], "'steps'"),
    "from zero": ([{**OWNER_BLOCK, "from": 0}], "'from'"),
    "a mistyped key": ([{**OWNER_BLOCK, "togther": True}], "'togther'"),
    "a mistyped key in the block": ([{"repeat": "owners", "steps": [{"run": "x", "usr": "a"}]}], "'usr'"),
}


@pytest.mark.parametrize("case", sorted(BAD_BLOCKS))
def test_a_bad_repeat_block_is_one_line_naming_file_and_line(case, tmp_path):
    steps, message = BAD_BLOCKS[case]
    path = write(tmp_path, [{"run": "true"}, *steps])
    with pytest.raises(MedperfError, match=message) as info:
        scenario.load(str(path))
    assert f"{path}:" in info.value.message and "\n" not in info.value.message


@pytest.mark.parametrize("owners", ["0", "65", "x", "2.5", "-1", ""])
def test_a_wrong_number_of_owners_is_refused(owners, tmp_path):
    with pytest.raises(MedperfError, match="the number of data owners .* takes 1 to 64"):
        scenario.load(str(write(tmp_path, [OWNER_BLOCK])), {"OWNERS": owners})


def test_errors_name_the_line_in_the_file_the_step_is_written_in(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("name: s\nsteps:\n  - include: admin_setup\n  - run: \"true\"\n  - run: echo\n    expct: {}\n")
    with pytest.raises(MedperfError) as info:
        scenario.load(str(path))
    assert info.value.message.startswith(f"scenario {path}:5, step 3 (run): 'expct'"), info.value.message
    part = SCENARIOS / "parts" / "admin_setup.yaml"
    loaded = scenario.load("federation")
    assert loaded.steps[0].where == f"{part}:4, step 1"


def test_scenario_check_names_file_and_line(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("name: s\nsteps:\n  - run: \"true\"\n  - repeat: owners\n    steps:\n      - wait: {log: x}\n")
    out = medperf(f"scenario check {path}", tmp_path / "home")
    assert out.returncode == 1
    assert f"invalid: scenario {path}:6, step 1 of the repeat block (owner 1) (wait):" in out.stdout, out.stdout


def test_a_lone_placeholder_keeps_its_type_and_a_partial_fill_keeps_the_unknown():
    assert scenario.fill({"equals": "{{ROUNDS}}", "x": "{{ROUNDS}} of {{ROUNDS}}"}, {"ROUNDS": 3}) == \
        {"equals": 3, "x": "3 of 3"}
    assert scenario.fill("{{K}} {{HOST}}", {"K": 4}, partial=True) == "4 {{HOST}}"
    assert scenario.fill("{{HOST}}", {"K": 4}, partial=True) == "{{HOST}}"
    assert scenario.fill("of {{ROUNDS}}", {}, derive=lambda name: 7) == "of 7"
    with pytest.raises(MedperfError, match=r"unknown placeholder \{\{NOPE\}\}"):
        scenario.fill("{{NOPE}}", {})
    assert scenario.fill_name("close {{ROUNDS}} {{NOPE}}", {"ROUNDS": 2}) == "close 2 {{NOPE}}"


def test_owners_are_the_tutorials_then_stable_distinct_faker_identities():
    many = tutorial.owners(64)
    assert list(many)[:3] == ["col1", "col2", "col3"] and len(set(many.values())) == 64
    assert list(many.values())[:2] == ["testdo@example.com", "testdo2@example.com"]
    assert tutorial.owners(5) == dict(list(many.items())[:5])  # the same in every run and workspace
    for bad in (0, 65):
        with pytest.raises(MedperfError, match="--data-owners takes 1 to 64"):
            tutorial.owners(bad)


def test_tutorial_init_lays_out_every_owners_site(tmp_path, home):
    out = medperf(f"tutorial init {tmp_path} --images 4 --no-build --data-owners 4", home)
    assert out.returncode == 0, out.stderr
    root = tmp_path / "medperf_tutorial"
    sites = tutorial.owners(4)
    assert all((root / site / "labels.csv").is_file() for site in sites)
    assert yaml.safe_load((root / "cols_list.yaml").read_text()) == {e: e for e in sites.values()}
    config = root / "training_config"
    project = yaml.safe_load((config / "secure_project.yml").read_text())
    assert [p["name"] for p in project["participants"] if p["type"] == "client"] == list(sites)
    assert [p["type"] for p in project["participants"]] == ["server", *["client"] * 4, "admin"]
    assert yaml.safe_load((config / "mapping.yaml").read_text()) == {e: s for s, e in sites.items()}
    assert json.loads((config / "jobs/chestxray/meta.json").read_text())["min_clients"] == 4
    server = json.loads((config / "jobs/chestxray/chestxray/config/config_fed_server.json").read_text())
    assert server["workflows"][0]["args"]["num_clients"] == 4
    users = medperf("users ls", home).stdout
    assert all(email in users for email in sites.values()), users
    again = medperf(f"tutorial init {tmp_path} --images 4 --no-build --data-owners 4", home)
    assert again.returncode == 0, again.stderr  # the owners are known already: nothing to add twice


def test_tutorial_init_refuses_a_wrong_number_of_owners(tmp_path, home):
    out = medperf(f"tutorial init {tmp_path} --no-build --data-owners 0", home)
    assert out.returncode == 1 and out.stderr.strip() == "Error: --data-owners takes 1 to 64 data owners, not 0"
    assert not (tmp_path / "medperf_tutorial").exists()


def test_data_owners_only_for_scenarios_that_repeat_per_owner(tmp_path, home):
    out = medperf(f"simulate wrong_user --data-owners 3 --workdir {tmp_path / 'w'}", home)
    assert out.returncode == 1 and "has no steps that repeat per data owner" in out.stderr, out.stderr
    out = medperf(f"simulate federation --data-owners 99 --workdir {tmp_path / 'w'}", home)
    assert out.returncode == 1 and "takes 1 to 64" in out.stderr and "Traceback" not in out.stderr, out.stderr


def test_no_shipped_scenario_holds_a_literal_round_count_or_site_list():
    for path in [*SCENARIOS.glob("*.yaml"), *SCENARIOS.glob("parts/*.yaml")]:
        text = path.read_text()
        assert "of 3 rounds" not in text and "of 40 rounds" not in text and "equals: 3}" not in text, path
        if path.stem != "node_dies":  # which node dies is the point of it
            assert not re.search(r"role: col\d+, exit", text), path  # every node's end: a repeat over the owners
        if path.stem not in ("node_dies", "tutorial"):  # the tutorial's own two owners' sections, verbatim
            assert "role: col" not in text, path


def test_every_field_of_the_schema_is_described():
    def walk(node, where):
        if isinstance(node, dict):
            for name, prop in (node.get("properties") or {}).items():
                assert prop.get("description") or "$ref" in prop or "allOf" in prop, f"{where}.{name}"
            for key, value in node.items():
                walk(value, f"{where}.{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{where}[{i}]")
    walk(schema.schema(), "schema")


def test_the_rounds_line_before_during_and_after_training():
    from medperf_lite.entities import rounds_text

    assert rounds_text(None, None) == "no round done"
    assert rounds_text(None, 3) == "0 of 3 rounds"  # closed before any job
    assert rounds_text(1, 3) == "1 of 3 rounds" and rounds_text(3, 3) == "3 of 3 rounds"
    assert rounds_text(2, None) == "2 rounds" and rounds_text(True, "x") == "no round done"


def test_the_report_names_the_model_file_first():
    from medperf_lite.entities import model_file, model_first

    weights = ["w/app_server/.__nvfl_sig.json", "w/app_server/config.json", "w/app_server/FL_global_model.pt",
               "w/.__nvfl_submitted", "w/meta.json"]
    assert model_first(weights)[0] == "w/app_server/FL_global_model.pt"
    assert model_first(weights)[-2:] == ["w/app_server/.__nvfl_sig.json", "w/.__nvfl_submitted"]
    assert model_file(weights) == "w/app_server/FL_global_model.pt"
    assert model_file(["a/.x.pt", "b/meta.json"]) is None
    from medperf_lite.entities import shown  # what close_event and training view print: no hidden files

    assert shown(weights) == ["w/app_server/FL_global_model.pt", "w/app_server/config.json", "w/meta.json"]


def test_a_report_of_an_event_closed_before_any_job(tmp_path):
    from medperf_lite.simulator import report

    data = {"scenario": "s", "passed": True, "runner": "local", "seconds": 1.0, "ports": [1, 2], "orphans": [],
            "steps": [{"index": 1, "name": "aggregator start -t 1 -p 127.0.0.1", "ok": True, "seconds": 0.1,
                       "detail": ""}],
            "events": [{"name": "event1", "status": "FINISHED", "rounds_done": None, "num_rounds": 3, "history": [],
                        "weights": [], "model": None, "output_weights": None}]}
    text = report._markdown(data)
    assert "## Event event1 (FINISHED): 0 of 3 rounds" in text and "None" not in text, text
