"""The training plan: the experiment's NVFlare job configuration folder.

The folder holds ``meta.json``, ``config_fed_server.json``, ``config_fed_client.json`` and
optionally ``custom/`` (the training code). It is validated, packed for the server's file
store, and turned back into an NVFlare job folder when the job is submitted.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from medperf_lite.errors import MedperfError
from medperf_lite.nvflare.kits import pack, unpack_plain

CONFIG_FILES = ("meta.json", "config_fed_server.json", "config_fed_client.json")


def _read_json(path: Path) -> dict:
    if not path.is_file():
        raise MedperfError(f"the training config needs {path.name}; not found in {path.parent}")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise MedperfError(f"{path} is not valid JSON: {e}") from None
    if not isinstance(data, dict):
        raise MedperfError(f"{path} must hold a JSON object")
    return data


def summarize(folder: Path) -> dict:
    """Validates the folder; returns what the server needs to know of the plan."""
    if not folder.is_dir():
        raise MedperfError(f"training config folder {folder} does not exist")
    meta, server, _ = (_read_json(folder / name) for name in CONFIG_FILES)
    min_clients = meta.get("min_clients", 1)
    if not isinstance(min_clients, int) or min_clients < 1:
        raise MedperfError(f"{folder / 'meta.json'}: min_clients must be a positive integer")
    workflows = server.get("workflows")
    if not isinstance(workflows, list) or not workflows:
        raise MedperfError(f"{folder / 'config_fed_server.json'} needs a non-empty 'workflows' list")
    rounds = next((w.get("args", {}).get("num_rounds") for w in workflows if isinstance(w, dict)), None)
    return {"name": meta.get("name", folder.name), "min_clients": min_clients, "num_rounds": rounds,
            "custom": (folder / "custom").is_dir()}


def archive(folder: Path) -> bytes:
    return pack(folder)


def job_folder(plan_archive: bytes, dest: Path) -> Path:
    """Lays out an NVFlare job (meta.json + app/config + app/custom) from a stored plan."""
    source = unpack_plain(plan_archive, dest.parent / f"{dest.name}.plan")
    if dest.exists():
        shutil.rmtree(dest)
    (dest / "app" / "config").mkdir(parents=True)
    shutil.copy(source / "meta.json", dest / "meta.json")
    for name in CONFIG_FILES[1:]:
        shutil.copy(source / name, dest / "app" / "config" / name)
    if (source / "custom").is_dir():
        shutil.copytree(source / "custom", dest / "app" / "custom",
                        ignore=shutil.ignore_patterns("__pycache__"))
    shutil.rmtree(source)
    return dest
