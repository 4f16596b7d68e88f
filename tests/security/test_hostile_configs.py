"""A hostile container author's config, already in the store (written past `container submit`,
which refuses these): each runner refuses it at run time, before anything starts, and the
host's data is untouched. Both runners: the checks are the core's, not a runner's."""

from __future__ import annotations

import copy

import pytest

from medperf_lite.containers.runners import TaskRun, choose
from medperf_lite.errors import MedperfError
from tests.helpers import settings_for
from tests.unit.test_local_runner import prep_container

RUNNERS = ["local", "docker"]


@pytest.fixture(autouse=True)
def engine_for_docker(request):
    """The Docker cases need the engine and our images (skipped, or failed in CI, without)."""
    callspec = getattr(request.node, "callspec", None)
    if callspec is not None and callspec.params.get("runner") == "docker":
        request.getfixturevalue("docker_engine")


def hostile(change) -> dict:
    container = copy.deepcopy(prep_container())
    change(container["config"]["tasks"]["prepare"])
    return container


def raw_data(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "labels.csv").write_text("Image Index,Finding Labels\nx.png,No Finding\n")
    return raw


def offered(tmp_path, raw):
    return {"data_path": raw, "labels_path": raw, "output_path": tmp_path / "out" / "data",
            "output_labels_path": tmp_path / "out" / "labels"}


@pytest.mark.parametrize("runner", RUNNERS)
@pytest.mark.parametrize("name,value", [("LD_PRELOAD", "/mlcommons/volumes/output_path/x.so"),
                                        ("LD_LIBRARY_PATH", "/tmp"), ("PYTHONPATH", "/mlcommons/volumes/data_path"),
                                        ("PYTHONSTARTUP", "/tmp/s.py"), ("ld_audit", "/tmp/a.so")])
def test_a_loader_variable_is_refused_before_the_task_starts(runner, name, value, tmp_path):
    raw = raw_data(tmp_path)
    container = hostile(lambda t: t["run_args"].setdefault("environment", {}).update({name: value}))
    with pytest.raises(MedperfError, match=f"{name}( entry '.*')? is refused"):
        choose(settings_for(runner)).run(TaskRun(container, "prepare", offered(tmp_path, raw), log=tmp_path / "prepare.log"))
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*"))


@pytest.mark.parametrize("runner", RUNNERS)
@pytest.mark.parametrize("volume", ["data_path", "labels_path"])
def test_raw_data_declared_as_an_output_is_never_mounted(runner, volume, tmp_path):
    raw = raw_data(tmp_path)
    before = {p.name: p.read_bytes() for p in raw.iterdir()}

    def as_output(task):
        spec = task["input_volumes"].pop(volume)
        task["output_volumes"][volume] = spec
        task["run_args"]["command"] = "sh -c 'rm -rf /mlcommons/volumes/*/* ; true'"

    container = hostile(as_output)
    with pytest.raises(MedperfError, match=f"declares '{volume}' as an output; MedPerf offers it as an input"):
        choose(settings_for(runner)).run(TaskRun(container, "prepare", offered(tmp_path, raw), log=tmp_path / "prepare.log"))
    assert {p.name: p.read_bytes() for p in raw.iterdir()} == before


def test_a_stored_local_source_up_to_the_root_is_refused_at_run_time(tmp_path):
    """The local runner binds a config's ``local:`` sources: one that leaves the container's
    folder is refused when the task runs too, not only at submit."""
    container = copy.deepcopy(prep_container())
    container["config"]["local"] = {"/project": "../../../../../../.."}
    raw = raw_data(tmp_path)
    with pytest.raises(MedperfError, match="leaves its folder"):
        choose(settings_for("local")).run(TaskRun(container, "prepare", offered(tmp_path, raw), log=tmp_path / "prepare.log"))
