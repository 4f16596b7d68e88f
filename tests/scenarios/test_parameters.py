"""The shipped scenarios follow what they are given: a container author's job of other rounds,
N data owners from one flag, each owner's own raw data; all through the real CLI."""

import json
import re
import shutil
import subprocess

import pytest

from medperf_lite.commands import tutorial
from medperf_lite.files import FIXTURES
from tests.helpers import BIN, cli_env


def simulate(tmp_path, *args, timeout=900):
    workdir = tmp_path / "run"
    out = subprocess.run([str(BIN / "medperf-lite"), "simulate", *args, "--workdir", str(workdir)],
                         env=cli_env(tmp_path / "home"), capture_output=True, text=True, timeout=timeout)
    report = json.loads((workdir / "report.json").read_text()) if (workdir / "report.json").exists() else {}
    return out, report


def failed_steps(report):
    return [(s["name"], s["detail"]) for s in report.get("steps", []) if not s["ok"]]


def containers_with_rounds(folder, rounds):
    """Our containers and training config in MedPerf's layout, the job asking for ``rounds``."""
    for name, source in tutorial.CONTAINERS.items():
        shutil.copytree(FIXTURES / "containers" / source, folder / name, ignore=shutil.ignore_patterns("__pycache__"))
    config = folder / "training_config"
    shutil.copytree(FIXTURES / "training_config", config, ignore=shutil.ignore_patterns("__pycache__"))
    server = config / "jobs" / "chestxray" / "chestxray" / "config" / "config_fed_server.json"
    server.write_text(re.sub(r'"num_rounds": \d+', f'"num_rounds": {rounds}', server.read_text()))
    return folder


@pytest.mark.parametrize("rounds", [2, 5])
def test_the_tutorial_follows_the_rounds_the_job_asks_for(rounds, tmp_path):
    source = containers_with_rounds(tmp_path / "mine", rounds)
    out, report = simulate(tmp_path, "tutorial", "--containers", str(source))
    assert out.returncode == 0, (out.stdout[-3000:], failed_steps(report))
    (event,) = report["events"]
    assert event["rounds_done"] == event["num_rounds"] == rounds and len(event["history"]) == rounds
    close = next(s for s in report["steps"] if s["name"] == "training close_event")
    assert close["ok"] and "3 of 3" not in out.stdout
    assert f"## Event event1 (FINISHED): {rounds} of {rounds} rounds" in (tmp_path / "run" / "report.md").read_text()


def test_the_tutorial_with_three_data_owners(tmp_path):
    out, report = simulate(tmp_path, "tutorial", "--data-owners", "3")
    assert out.returncode == 0, (out.stdout[-3000:], failed_steps(report))
    (event,) = report["events"]
    assert sorted(event["history"][-1]["sites"]) == ["col1", "col2", "col3"]
    assert sorted(event["participants"]) == sorted(tutorial.owners(3).values())
    assert event["model"].endswith("global_model.pt")
    names = [s["name"] for s in report["steps"]]
    assert "col3 dataset train" in names and not any("{{" in n for n in names), names
    assert "aggregator start" in names  # the tutorial's own, unnamed step names are its commands, filled in


def jpeg_prep(folder):
    """A preparation container that reads another raw format: JPEG images (not PNG)."""
    shutil.copytree(FIXTURES / "containers" / "chestxray_prep", folder, ignore=shutil.ignore_patterns("__pycache__"))
    prep = folder / "project" / "prep.py"
    text = prep.read_text()
    assert text.count('glob("*.png")') >= 1
    prep.write_text(text.replace('glob("*.png")', 'glob("*.jpg")'))
    return folder


def jpeg_data(source, dest):
    from PIL import Image

    dest.mkdir(parents=True)
    shutil.copy(source / "labels.csv", dest / "labels.csv")
    for png in sorted(source.glob("*.png")):
        with Image.open(png) as image:
            image.convert("L").save(dest / f"{png.stem}.jpg", "JPEG")
    return dest


def test_the_plugin_example_with_a_prep_of_another_raw_format(pytester, tmp_path):
    """The README's example: a container author's prep with their own data, passed by variable."""
    jpeg_prep(pytester.path / "my_prep")
    toy = tmp_path / "toy"
    for site in ("col1", "col2"):  # a folder per data owner, by site, as the tutorial's
        tutorial.toy_data().generate(toy / site, site=site, images=20)
        jpeg_data(toy / site, pytester.path / "data" / "my_raw" / site)
    pytester.makepyfile(test_outside='''
def test_my_prep_with_my_data(medperf_scenario):
    report = medperf_scenario("data_owners", containers={"prep": "my_prep"}, vars={"DATA": "data/my_raw"})
    assert report["passed"]

def test_my_prep_does_not_read_the_tutorials_pngs(medperf_scenario):
    medperf_scenario("data_owners", containers={"prep": "my_prep"})
''')
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    assert "test_my_prep_does_not_read_the_tutorials_pngs FAILED" in result.stdout.str() or \
        "FAILED test_outside.py::test_my_prep_does_not_read_the_tutorials_pngs" in result.stdout.str()


def test_each_owner_takes_their_own_data_folder(tmp_path):
    toy = tmp_path / "toy"
    for k in (1, 2):
        tutorial.toy_data().generate(toy / f"mine{k}", site=f"col{k}", images=12)
    out, report = simulate(tmp_path, "data_owners", "--var", f"DATA1={toy / 'mine1'}", "--var",
                           f"DATA2={toy / 'mine2'}", timeout=600)
    assert out.returncode == 0, (out.stdout[-3000:], failed_steps(report))
    from medperf_lite.commands.dataset import data_hash

    db = json.loads((tmp_path / "run" / "home" / "server" / "db.json").read_text())
    registered = sorted(d["data_hash"] for d in db["datasets"].values())
    assert registered == sorted(data_hash(toy / f"mine{k}", toy / f"mine{k}") for k in (1, 2))
