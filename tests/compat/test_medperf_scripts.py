"""MedPerf's own scripts against medperf-lite, with only the offline changes.

MedPerf's CLI test of the NVFlare training flow (cli/cli_tests_training_nv.sh, branch
nvflare-integration) is not in ../shared: medperf_cli_training_nv.yaml writes its steps in our
words, in its order, with its commands, flags, ID idiom (`ls | grep | tr -s ' ' | cut -d ' ' -f 2`),
sleeps and background processes whose exit codes it waits for. Its offline changes:
- downloads (uncol1/uncol2) become `tutorial init`'s toy data (col1, col2);
- the admin's `curl -X PUT .../training/ID/ {"approval_status": "APPROVED"}` becomes `medperf
  training approve` as testadmin@ (testmo@ is approved at once here, so it runs only if needed);
- `hostname -I` becomes 127.0.0.1, the fixed ports 8102/8103 the run's free ports;
- the example job's min_clients 8 becomes 2 (the test has two data owners) and it runs 2 rounds on
  100 images a site, so that it ends within the script's own `sleep 120` on this 2-core machine,
  also beside a parallel suite (with 5 rounds on 300 images it did not: MedPerf's stop.py then
  finds no `transfer/<job>/workspace` to move, and close_event fails, as MedPerf's does).
Its server set-up (tests_setup.sh: a local server, mock tokens, a moved storage) has no
counterpart: medperf-lite's server is the home's TinyDB file.

MedPerf's tutorial script setup_training_tutorial.sh runs as it is, beside MedPerf's examples,
and the tutorial then runs on the containers and training config it laid out; its offline
change: wget (its two downloads) is a shim that hands it the toy data packed as MedPerf's
archives.

MedPerf's tutorial script collab_shortcut.sh (../shared/medperf-examples/tutorials_scripts) runs
as it is, read from there, as the tutorial's second data owner; its offline change: the
downloaded col2 (data/ and labels/) is the toy data's col2 split into those two folders.
"""

import json
import os
from pathlib import Path

import pytest
import yaml

from medperf_lite.simulator.engine import Overrides, simulate
from medperf_lite.simulator.scenario import SCENARIOS
from tests.compat.conftest import EXAMPLES

pytestmark = pytest.mark.slow
CLI_TEST = Path(__file__).parent / "medperf_cli_training_nv.yaml"
SHORTCUT = EXAMPLES / "tutorials_scripts" / "collab_shortcut.sh"


def play(path, tmp_path, overrides=None):
    ok, workdir, report = simulate(str(path), workdir=tmp_path / "run", echo=False, overrides=overrides)
    failed = [s for s in report["steps"] if not s["ok"]]
    assert ok, f"failed: {json.dumps(failed, indent=1)}; see {workdir}"
    assert not report["orphans"]
    (event,) = report["events"]
    assert event["status"] == "FINISHED" and event["weights"]
    return report


def test_medperfs_cli_training_test_with_our_containers(tmp_path):
    play(CLI_TEST, tmp_path)


def test_medperfs_cli_training_test_with_medperfs_containers(tmp_path):
    play(CLI_TEST, tmp_path, Overrides(source=EXAMPLES))


def test_medperfs_collab_shortcut_as_the_second_data_owner(tmp_path):
    """The tutorial, its second data owner typing MedPerf's own collab_shortcut.sh."""
    plan = yaml.safe_load((SCENARIOS / "tutorial.yaml").read_text())
    (shortcut,) = [s for s in plan["steps"] if s.get("role") == "col2"]
    shortcut.pop("user")  # the script logs out and in as testdo2@ itself, as a user's shell would
    shortcut["start"] = f"bash {SHORTCUT}"
    # as in the tutorial, the second owner opens their terminal once the first one's node runs
    # (the script's first command logs the shared profile out)
    started = {"wait": {"role": "col1", "log": "training node: connecting", "timeout": 120},
               "name": "the first data owner's node runs"}
    plan["steps"].insert(plan["steps"].index(shortcut), started)
    split = {"run": "mkdir -p medperf_tutorial/col2/data medperf_tutorial/col2/labels && "
                    "mv medperf_tutorial/col2/*.png medperf_tutorial/col2/data/ && "
                    "mv medperf_tutorial/col2/labels.csv medperf_tutorial/col2/labels/",
             "name": "col2 as MedPerf's download lays it out (data/, labels/)"}
    plan["steps"].insert(0, split)
    plan["name"] = "tutorial_medperf_shortcut"
    path = tmp_path / "tutorial_medperf_shortcut.yaml"
    path.write_text(yaml.safe_dump(plan, sort_keys=False))
    report = play(path, tmp_path)
    assert report["events"][0]["rounds_done"] == 3


SETUP = EXAMPLES / "tutorials_scripts" / "setup_training_tutorial.sh"
REAL_SCENARIO = Path(__file__).parent / "real_tutorial.yaml"
WGET = ('#!/bin/sh\n# the offline download: the toy data, packed as MedPerf serves uncol1/uncol2\n'
        'cp "$TOY_DOWNLOADS/$(basename "$1")" .\n')


def test_medperfs_setup_training_tutorial_script(tmp_path):
    """MedPerf's setup_training_tutorial.sh, read from ../shared, run as it is beside MedPerf's
    examples; then the tutorial with the containers and training config it laid out. Offline
    change: its two downloads (wget) are the toy data, packed as MedPerf's archives are
    (uncolN/data/*.png, uncolN/labels/labels.csv)."""
    import shutil
    import subprocess
    import tarfile

    from medperf_lite.commands import tutorial
    from medperf_lite.home import Home
    from tests.helpers import PORTS, settings_for

    toy = tutorial.init(Home(settings_for()), tmp_path / "toy", images=20, ports=PORTS)
    downloads, shims = tmp_path / "downloads", tmp_path / "bin"
    downloads.mkdir()
    shims.mkdir()
    for n in (1, 2):
        packed = tmp_path / "pack" / f"uncol{n}"
        (packed / "labels").mkdir(parents=True)
        shutil.copytree(toy / f"col{n}", packed / "data", ignore=shutil.ignore_patterns("labels.csv"))
        shutil.copy(toy / f"col{n}" / "labels.csv", packed / "labels" / "labels.csv")
        with tarfile.open(downloads / f"uncol{n}.tar.gz", "w:gz") as tar:
            tar.add(packed, arcname=f"uncol{n}")
    (shims / "wget").write_text(WGET)
    (shims / "wget").chmod(0o755)
    beside = tmp_path / "medperf-examples"  # the script runs where MedPerf's examples are
    beside.mkdir()
    for name in ("examples", "tutorials_scripts"):
        (beside / name).symlink_to(EXAMPLES / name)
    env = {**os.environ, "PATH": f"{shims}:{os.environ['PATH']}", "TOY_DOWNLOADS": str(downloads)}
    done = subprocess.run(["bash", str(SETUP)], cwd=beside, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    ws = beside / "medperf_tutorial"
    assert sorted(p.name for p in ws.iterdir()) == ["admin_container", "col1", "col2", "collab_shortcut.sh", "cols_list.yaml",
                                                    "data_preparator", "node_container", "training_config"]
    assert len(list((ws / "col1" / "data").glob("*.png"))) == 20 and (ws / "col2" / "labels" / "labels.csv").is_file()
    assert not (ws / "node_container" / "workspace").exists()
    assert yaml.safe_load((ws / "cols_list.yaml").read_text()) == {"testdo@example.com": "testdo@example.com",
                                                                    "testdo2@example.com": "testdo2@example.com"}
    play(REAL_SCENARIO, tmp_path, Overrides(source=ws))  # the event closed with its final weights
    jobs = tmp_path / "run" / "medperf_tutorial" / "training_config" / "jobs"
    assert [p.name for p in jobs.iterdir()] == ["classify"]  # MedPerf's training config, from the script's workspace
