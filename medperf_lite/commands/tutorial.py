"""medperf-lite tutorial init: the tutorial's workspace, laid out as its commands expect."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from medperf_lite.world import FIXTURES, load_fixture_module

IMAGES_PER_SITE = 300
CONTAINERS = {"prep": "chestxray_prep", "trainer": "nvflare_node", "trainadmin": "nvflare_admin"}
PARTICIPANTS = {"col1": "testdo@example.com", "col2": "testdo2@example.com"}

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


def init(directory: Path, images: int = IMAGES_PER_SITE) -> Path:
    root = Path(directory).resolve() / "medperf_tutorial"
    root.mkdir(parents=True, exist_ok=True)
    generator = toy_data()
    for site in PARTICIPANTS:
        shutil.rmtree(root / site, ignore_errors=True)
        generator.generate(root / site, site=site, images=images)
    shutil.rmtree(root / "training_config", ignore_errors=True)
    shutil.copytree(FIXTURES / "training_config", root / "training_config",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name, source in CONTAINERS.items():
        shutil.rmtree(root / "containers" / name, ignore_errors=True)
        shutil.copytree(FIXTURES / "containers" / source, root / "containers" / name,
                        ignore=shutil.ignore_patterns("__pycache__"))
    (root / "cols_list.yaml").write_text(yaml.safe_dump(PARTICIPANTS))
    shortcut = root / "collab_shortcut.sh"
    shortcut.write_text(COLLAB_SHORTCUT)
    shortcut.chmod(0o755)
    return root
