"""medperf-lite tutorial init: the tutorial's workspace, laid out as its commands expect."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from medperf_lite import rules
from medperf_lite.containers import sitenet
from medperf_lite.errors import MedperfError
from medperf_lite.inputs import load_yaml, read_file
from medperf_lite.world import FIXTURES, load_fixture_module

if TYPE_CHECKING:
    from medperf_lite.home import Home
    from medperf_lite.settings import Settings

IMAGES_PER_SITE = 300
CONTAINERS = {"prep": "chestxray_prep", "trainer": "nvflare_node", "trainadmin": "nvflare_admin"}
SITES = {"col1": "testdo@example.com", "col2": "testdo2@example.com"}
DEFAULT_OWNERS = len(SITES)
MAX_OWNERS = 64
DEFAULT_PORTS = (8102, 8103)


def owners(count: int = DEFAULT_OWNERS) -> dict[str, str]:
    """The data owners of a federation of ``count``: site col<K> -> e-mail; the tutorial's two
    first, then a faker identity per owner, the same for K in every run and workspace."""
    if not 1 <= count <= MAX_OWNERS:
        raise MedperfError(f"--data-owners takes 1 to {MAX_OWNERS} data owners, not {count}")
    found = dict(list(SITES.items())[:count])
    if count > len(SITES):
        from faker import Faker

        fake = Faker()
        for k in range(len(SITES) + 1, count + 1):
            fake.seed_instance(k)
            found[f"col{k}"] = f"{fake.user_name()}.{k}@example.org"
    return found

COLLAB_SHORTCUT = """#!/usr/bin/env bash
# The second data owner's steps of the tutorial's sections 5-7, as testdo2@example.com.
# Ends like 'medperf dataset train': the training node runs in the foreground until the event closes.
# Safe to run again: the steps already done (dataset registered, prepared, operational, associated) are skipped.
# COL2_DATA: the raw data folder to register (default: the tutorial's medperf_tutorial/col2).
set -euo pipefail
cd "$(dirname "$0")/.."
export MEDPERF_LITE_USER=testdo2@example.com
DATA_PATH="${COL2_DATA:-medperf_tutorial/col2}"
field() {  # field DATASET_ID NAME: one field of the dataset's record
  medperf dataset view "$1" --format json | python3 -c "import json, sys; print(json.load(sys.stdin)['$2'])"
}
DATA_UID=$(medperf dataset ls --mine --format json \\
  | python3 -c "import json, sys; print(next((d['id'] for d in json.load(sys.stdin) if d['name'] == 'col2data'), ''))")
if [ -z "$DATA_UID" ]; then
  DATA_UID=$(medperf dataset submit --data_prep 2 --data_path "$DATA_PATH" \\
    --labels_path "$DATA_PATH" --name col2data --description "some data" --location mymachine -y \\
    | sed -n 's/.*registered with ID \\([0-9]*\\).*/\\1/p')
  echo "Dataset registered with ID $DATA_UID"
else
  echo "Dataset col2data is already registered with ID $DATA_UID"
fi
[ "$(field "$DATA_UID" prepared)" = True ] || medperf dataset prepare --data_uid "$DATA_UID"
[ "$(field "$DATA_UID" state)" = OPERATION ] || medperf dataset set_operational --data_uid "$DATA_UID" -y
if ! out=$(medperf dataset associate --data_uid "$DATA_UID" --training_exp_uid 1 -y 2>&1); then
  echo "$out" | grep -q "already associated" || { echo "$out" >&2; exit 1; }
fi
echo "$out"
exec medperf dataset train --data_uid "$DATA_UID" --training_exp_id 1 -y --overwrite
"""


def toy_data():
    return load_fixture_module("toy_data.py")


TIMINGS = ("fast", "nvflare")


def training_config(dest: Path, address: str, ports: tuple[int, int], timings: str = "fast",
                    source: Path | None = None, round_pause: float = 0.0, sites: dict[str, str] | None = None) -> Path:
    """A training config in MedPerf's layout (ours, or ``source``), its secure_project.yml naming
    the aggregator at ``address`` with ``ports`` (FL, admin), as MedPerf's setup fills in the
    host's address: the server participant, and the overseer's ``sp_end_point`` where the
    project names one. Our node container's timings go to its node_settings.yaml. With
    ``sites`` (site -> e-mail) other than the tutorial's, the project's clients, mapping.yaml
    and the jobs' client counts are those sites, as an experiment admin edits them by hand."""
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(source or FIXTURES / "training_config", dest, ignore=shutil.ignore_patterns("__pycache__"))
    project_file = dest / "secure_project.yml"
    text = read_file(project_file, str(project_file))
    project = load_yaml(text, str(project_file))
    if not isinstance(project, dict) or not isinstance(project.get("participants"), list):
        raise MedperfError(f"{project_file}: no participants list")
    for participant in project["participants"]:
        if isinstance(participant, dict) and participant.get("type") == "server":
            participant.update({"name": address, "fed_learn_port": ports[0], "admin_port": ports[1]})
    if sites is not None and sites != SITES:
        _set_sites(dest, project, sites)
    for builder in project.get("builders") or []:
        overseer = ((builder or {}).get("args") or {}).get("overseer_agent") or {}
        if isinstance(overseer.get("args"), dict) and "sp_end_point" in overseer["args"]:
            overseer["args"]["sp_end_point"] = f"{address}:{ports[0]}:{ports[1]}"
    lines = text.splitlines(keepends=True)
    header = "".join(lines[:next((i for i, line in enumerate(lines) if not line.startswith("#")), len(lines))])
    project_file.write_text(header + yaml.safe_dump(project, sort_keys=False))
    settings = dest / "node_settings.yaml"
    if settings.exists():
        settings.write_text(re.sub(r"(?m)^timings: .*$", f"timings: {timings}", settings.read_text()))
    if round_pause:
        _set_round_pause(dest, round_pause)
    return dest


CLIENT_COUNTS = ("min_clients", "num_clients")  # a job's clients, in its meta.json and server config


def _set_sites(config: Path, project: dict, sites: dict[str, str]) -> None:
    """The project's clients become ``sites`` (in the first client's place and organisation),
    mapping.yaml maps each owner's e-mail to their site, and every job asks for all of them."""
    participants = project["participants"]
    clients = [i for i, p in enumerate(participants) if isinstance(p, dict) and p.get("type") == "client"]
    org = participants[clients[0]].get("org", "medperf") if clients else "medperf"
    at = clients[0] if clients else len(participants)
    kept = [p for i, p in enumerate(participants) if i not in clients]
    project["participants"] = kept[:at] + [{"name": site, "type": "client", "org": org} for site in sites] + kept[at:]
    (config / "mapping.yaml").write_text("# Each data owner's e-mail -> the client name of their startup kit.\n"
                                         + yaml.safe_dump({email: site for site, email in sites.items()}))
    for path in [*config.glob("jobs/*/meta.json"), *config.glob("jobs/*/*/config/config_fed_server.json")]:
        job = json.loads(read_file(path, str(path)))
        path.write_text(json.dumps(_with_counts(job, len(sites)), indent=4) + "\n")


def _with_counts(value, count: int):
    if isinstance(value, dict):
        return {k: count if k in CLIENT_COUNTS and isinstance(v, int) else _with_counts(v, count)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_with_counts(v, count) for v in value]
    return value


def _set_round_pause(config: Path, seconds: float) -> None:
    """Our controller's pause between rounds, in every job of the config that uses it."""
    found = False
    for server in config.glob("jobs/*/*/config/config_fed_server.json"):
        job = json.loads(server.read_text())
        for workflow in job.get("workflows", []):
            if str(workflow.get("path", "")).endswith("medperf_fedavg.MedperfFedAvg"):
                workflow.setdefault("args", {})["round_pause"] = seconds
                found = True
        server.write_text(json.dumps(job, indent=4) + "\n")
    if not found:
        raise MedperfError("--round-pause needs medperf-lite's own training config (its controller pauses); "
                           "this one has none")


ROLE_TASKS = {"prep": ("prepare",), "trainer": ("generate_plan", "start_aggregator", "train"),
              "trainadmin": ("start_federation", "get_experiment_status", "stop_federation")}


# MedPerf main's flow: the prep, the Flower FL and admin containers, and a CA that issues
# certificates by itself (MedPerf's mock CA; its step-ca client needs a real CA on the network)
MAIN_ROLE_TASKS = {"prep": ("prepare",), "fl": ("start_aggregator", "train"), "fl_admin": ("get_experiment_status",),
                   "ca": ("get_client_cert", "get_server_cert", "verify_cert")}


def _find_roles(root: Path, role_tasks: dict[str, tuple[str, ...]],
                prefer: dict[str, object] | None = None) -> dict[str, Path]:
    """The container folder for each role under ``root``, found by the tasks its
    container_config.yaml declares; where several match, those ``prefer[role](folder)`` keeps."""
    root = Path(root).resolve()
    if not root.is_dir():
        raise MedperfError(f"--containers {root} is not a folder")
    found: dict[str, list[Path]] = {role: [] for role in role_tasks}
    for config_path in sorted(root.rglob("container_config.yaml")):
        if not (config_path.parent / "Dockerfile").is_file():
            continue
        config = load_yaml(read_file(config_path, str(config_path)), str(config_path))
        tasks = set((config.get("tasks") or {}) if isinstance(config, dict) else {})
        for role, wanted in role_tasks.items():
            if tasks & set(wanted):
                found[role].append(config_path.parent)
    chosen = {}
    for role, folders in found.items():
        if len(folders) > 1 and prefer and role in prefer:
            folders = [f for f in folders if prefer[role](f)] or folders
        if len(folders) != 1:
            what = "no container folder" if not folders else f"{len(folders)} container folders"
            raise MedperfError(f"{what} with a task of {', '.join(role_tasks[role])} under {root} "
                               f"(the tutorial's {role}){': ' + ', '.join(map(str, folders)) if folders else ''}")
        chosen[role] = folders[0]
    return chosen


def find_containers(root: Path) -> tuple[dict[str, Path], Path]:
    """MedPerf's layout under ``root``: the container folder for each of the tutorial's roles
    and the training config (a folder with secure_project.yml and jobs/)."""
    chosen = _find_roles(root, ROLE_TASKS)
    root = Path(root).resolve()
    configs = sorted({p.parent for p in root.rglob("secure_project.yml") if (p.parent / "jobs").is_dir()})
    if len(configs) != 1:
        raise MedperfError(f"{len(configs)} training configs (secure_project.yml and jobs/) under {root}; need one")
    return chosen, configs[0]


def _issues_by_itself(folder: Path) -> bool:
    return any(folder.rglob("root.crt"))


def find_main_containers(root: Path) -> tuple[dict[str, Path], Path, Path | None]:
    """MedPerf main's layout under ``root``: the prep, FL, admin and CA container folders, the
    training config (training_config.yaml, the FL container's own first) and the FL container's
    initial weights (an init_weights*.tar.gz, which MedPerf downloads; None when there is none)."""
    chosen = _find_roles(root, MAIN_ROLE_TASKS, prefer={"ca": _issues_by_itself})
    root = Path(root).resolve()
    configs = sorted(chosen["fl"].rglob("training_config.yaml")) or sorted(root.rglob("training_config.yaml"))
    if not configs:
        raise MedperfError(f"no training_config.yaml under {root} (MedPerf main's 'training set_plan -c' file)")
    weights = sorted(root.rglob("init_weights*.tar.gz"))
    return chosen, configs[0], weights[0] if weights else None


def lay_out_container(role: str, folder: Path, dest: Path) -> None:
    """A container folder as the tutorial uses it: without its MLCube ``workspace`` (the prep's
    parameters.yaml, found there, goes beside its container_config.yaml)."""
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(folder, dest, ignore=shutil.ignore_patterns("__pycache__", "wheels", "workspace", ".git*"))
    parameters = folder / "workspace" / "parameters.yaml"
    if role == "prep" and not (dest / "parameters.yaml").exists() and parameters.is_file():
        shutil.copy(parameters, dest / "parameters.yaml")


def image_folders(root: Path) -> list[Path]:
    """The workspace's container folders whose images are built (not those that map their
    sources by hand, with a ``local`` section): its flow's containers."""
    main = not (root / "containers" / "trainer").exists() and (root / "containers" / "ca").is_dir()
    folders = []
    for name in FLOWER_CONTAINERS if main else CONTAINERS:  # a workspace has the containers of its flow
        path = root / "containers" / name / "container_config.yaml"
        config = load_yaml(read_file(path, str(path)), str(path))
        if not (isinstance(config, dict) and config.get("local")):
            folders.append(path.parent)
    return folders


def build_images(root: Path, config: Settings, echo=print) -> None:
    """Images of the tutorial's containers (image_folders), for ``config.runner``, with the
    shipped substitutions; cached by content, pinned in ``config``'s home."""
    from medperf_lite.containers import docker_build, images
    from medperf_lite.containers.substitutions import SUBSTITUTIONS

    for folder in image_folders(root):
        if config.runner == "docker":
            docker_build.build_docker(folder, config, substitutions=SUBSTITUTIONS, echo=echo)
        else:
            images.build_local(folder, config, substitutions=SUBSTITUTIONS, echo=echo)


def register_owners(home: Home, count: int) -> list[str]:
    """The data owners' users that this home's server does not know yet, added."""
    if count <= len(SITES):
        return []  # the tutorial's own, seeded in every home
    store = home.store
    known = {u["email"] for u in store.state()["users"].values()}
    added = [email for email in owners(count).values() if email not in known]
    for email in added:
        store.run(rules.add_user, None, email)
    return added


# MedPerf main's flow: the prep, the CA, our Flower node (with its training config) and admin
FLOWER_CONTAINERS = {"prep": "chestxray_prep", "ca": "medperf_ca", "fl": "flower_node", "fl_admin": "flower_admin"}


def init_flower(home: Home, directory: Path, images: int = IMAGES_PER_SITE, data_owners: int = DEFAULT_OWNERS,
                containers: Path | None = None) -> Path:
    """Lays out medperf_tutorial/ for MedPerf main's flow: toy data per data owner, the prep,
    FL, admin and CA containers (ours, or those found under ``containers`` in MedPerf main's
    layout), the training config and the participants list; the home follows main's flow from
    now on. A CA found under ``containers`` becomes the server's CA 1, as MedPerf's local
    server seeds its mock CA, and the home's profiles expect its fingerprint."""
    found = find_main_containers(containers) if containers is not None else None
    sites = owners(data_owners)
    home.choose_flow("flower")
    if found:
        _seed_ca(home, found[0]["ca"])
    root = _owners_workspace(directory, sites, images)
    for name, source in FLOWER_CONTAINERS.items():
        folder = found[0][name] if found else FIXTURES / "containers" / source
        lay_out_container(name, folder, root / "containers" / name)
    config = found[1] if found else FIXTURES / "containers" / "flower_node" / "training_config.yaml"
    shutil.copy(config, root / "training_config.yaml")
    if found and found[2]:
        shutil.copy(found[2], root / "init_weights_flower.tar.gz")
    return root


def _seed_ca(home, folder: Path) -> None:
    """The CA container at ``folder`` as the server's CA 1 (its ca_config.json from its
    workspace), the fingerprint the home's profiles expect by default."""
    import json

    path = folder / "workspace" / "ca_config.json"
    try:
        ca_config = json.loads(read_file(path, str(path)))
    except ValueError as e:
        raise MedperfError(f"{path} is not JSON: {e}") from None
    config_path = folder / "container_config.yaml"
    config = load_yaml(read_file(config_path, str(config_path)), str(config_path))
    home.store.run(rules.seed_ca, None, folder.name, config, ca_config)
    home.set_default_fingerprint(str(ca_config.get("fingerprint")))


def _owners_workspace(directory: Path, sites: dict[str, str], images: int) -> Path:
    """medperf_tutorial/ with each data owner's toy data and the participants list."""
    root = Path(directory).resolve() / "medperf_tutorial"
    root.mkdir(parents=True, exist_ok=True)
    generator = toy_data()
    for site in sites:
        shutil.rmtree(root / site, ignore_errors=True)
        generator.generate(root / site, site=site, images=images)
    (root / "cols_list.yaml").write_text("".join(f"{email}: {email}\n" for email in sites.values()))
    return root


def init(home: Home, directory: Path, images: int = IMAGES_PER_SITE, address: str = "127.0.0.1",
         ports: tuple[int, int] = DEFAULT_PORTS, timings: str = "fast", containers: Path | None = None,
         round_pause: float = 0.0, data_owners: int = DEFAULT_OWNERS) -> Path:
    """Lays out medperf_tutorial/: toy data for each data owner (the tutorial's two by default),
    the training config for their sites, the three containers (ours, or those found under
    ``containers`` in MedPerf's layout), the participants list and the second owner's shortcut."""

    rules.require_loopback(address, "--address", sitenet.site_addresses())
    if timings not in TIMINGS:
        raise MedperfError(f"--timings takes one of {', '.join(TIMINGS)}, not '{timings}'")
    if not 0 <= round_pause <= 3600:
        raise MedperfError("--round-pause takes seconds between 0 and 3600")
    if len(ports) != 2 or ports[0] == ports[1] or not all(0 < p < 65536 for p in ports):
        raise MedperfError("--ports takes two different ports, FL and admin, e.g. 8102,8103")
    sites = owners(data_owners)
    found = find_containers(containers) if containers is not None else None
    home.choose_flow("nvflare")
    root = _owners_workspace(directory, sites, images)
    training_config(root / "training_config", address, ports, timings, found[1] if found else None, round_pause,
                    sites)
    for name, source in CONTAINERS.items():
        folder = found[0][name] if found else FIXTURES / "containers" / source
        lay_out_container(name, folder, root / "containers" / name)
    shortcut = root / "collab_shortcut.sh"
    shortcut.write_text(COLLAB_SHORTCUT)
    shortcut.chmod(0o755)
    return root
