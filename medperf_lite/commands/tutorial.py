"""medperf-lite tutorial init: the tutorial's workspace, laid out as its commands expect."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import yaml

from medperf_lite import rules
from medperf_lite.errors import MedperfError
from medperf_lite.world import FIXTURES, load_fixture_module

IMAGES_PER_SITE = 300
CONTAINERS = {"prep": "chestxray_prep", "trainer": "nvflare_node", "trainadmin": "nvflare_admin"}
SITES = {"col1": "testdo@example.com", "col2": "testdo2@example.com"}
DEFAULT_PORTS = (8102, 8103)

COLLAB_SHORTCUT = """#!/usr/bin/env bash
# The second data owner's steps of the tutorial's sections 5-7, as testdo2@example.com.
# Ends like 'medperf dataset train': the training node runs in the foreground until the event closes.
set -euo pipefail
cd "$(dirname "$0")/.."
export MEDPERF_LITE_USER=testdo2@example.com
DATA_UID=$(medperf dataset submit --data_prep 2 --data_path medperf_tutorial/col2 \\
  --labels_path medperf_tutorial/col2 --name col2data --description "some data" --location mymachine -y \\
  | sed -n 's/.*registered with ID \\([0-9]*\\).*/\\1/p')
echo "Dataset registered with ID $DATA_UID"
medperf dataset prepare --data_uid "$DATA_UID"
medperf dataset set_operational --data_uid "$DATA_UID" -y
medperf dataset associate --data_uid "$DATA_UID" --training_exp_uid 1 -y
exec medperf dataset train --data_uid "$DATA_UID" --training_exp_id 1 -y
"""


def toy_data():
    return load_fixture_module("toy_data.py")


TIMINGS = ("fast", "nvflare")


def training_config(dest: Path, address: str, ports: tuple[int, int], timings: str = "fast") -> Path:
    """Our training config in MedPerf's layout, its secure_project.yml naming the aggregator
    at ``address`` with ``ports`` (FL, admin), as MedPerf's setup fills in the host's address."""
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(FIXTURES / "training_config", dest, ignore=shutil.ignore_patterns("__pycache__"))
    project_file = dest / "secure_project.yml"
    project = yaml.safe_load(project_file.read_text())
    for participant in project["participants"]:
        if participant["type"] == "server":
            participant.update({"name": address, "fed_learn_port": ports[0], "admin_port": ports[1]})
    header = "".join(line for line in project_file.read_text().splitlines(keepends=True) if line.startswith("#"))
    project_file.write_text(header + yaml.safe_dump(project, sort_keys=False))
    settings = dest / "node_settings.yaml"
    settings.write_text(re.sub(r"(?m)^timings: .*$", f"timings: {timings}", settings.read_text()))
    return dest


def init(directory: Path, images: int = IMAGES_PER_SITE, address: str = "127.0.0.1",
         ports: tuple[int, int] = DEFAULT_PORTS, timings: str = "fast") -> Path:
    rules.require_loopback(address, "--address")
    if timings not in TIMINGS:
        raise MedperfError(f"--timings takes one of {', '.join(TIMINGS)}, not '{timings}'")
    if len(ports) != 2 or ports[0] == ports[1] or not all(0 < p < 65536 for p in ports):
        raise MedperfError("--ports takes two different ports, FL and admin, e.g. 8102,8103")
    root = Path(directory).resolve() / "medperf_tutorial"
    root.mkdir(parents=True, exist_ok=True)
    generator = toy_data()
    for site in SITES:
        shutil.rmtree(root / site, ignore_errors=True)
        generator.generate(root / site, site=site, images=images)
    training_config(root / "training_config", address, ports, timings)
    for name, source in CONTAINERS.items():
        shutil.rmtree(root / "containers" / name, ignore_errors=True)
        shutil.copytree(FIXTURES / "containers" / source, root / "containers" / name,
                        ignore=shutil.ignore_patterns("__pycache__", "wheels"))
    (root / "cols_list.yaml").write_text("".join(f"{email}: {email}\n" for email in SITES.values()))
    shortcut = root / "collab_shortcut.sh"
    shortcut.write_text(COLLAB_SHORTCUT)
    shortcut.chmod(0o755)
    return root
