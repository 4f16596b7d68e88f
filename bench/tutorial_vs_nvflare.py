"""The tutorial scenario against the same job on raw NVFlare, measured in one run.

(a) `medperf-lite simulate federation` (local runner): the tutorial's federation with both
    data owners' data registered and prepared beforehand, as raw NVFlare's data is prepared
    before its clock starts; its FL phase runs from `aggregator start` to the event closed and
    every node stopped (the aggregator, both training nodes, submit_job, a status check,
    close_event, all through the CLI and our containers). For reference, the tutorial scenario
    itself too, whose FL phase also holds the data owners' registration and preparation
    (tutorial sections 5-8 come after the aggregator starts);
(b) raw NVFlare, no MedPerf around it, twice: with NVFlare's default timings and with the
    same fast timings our node container writes: kits provisioned with nvflare.lighter for
    the same participants, server and clients started from their kits on 127.0.0.1, the same
    job (the tutorial's training config, the same prepared data) submitted, monitored, its
    result downloaded and the system shut down through the FLARE API.
Prints the times, the peak memory of each process tree, and the ratios against both.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.proctree import PeakMemory  # noqa: E402
from medperf_lite.commands.tutorial import toy_data  # noqa: E402
from medperf_lite.simulator.engine import simulate  # noqa: E402
from medperf_lite.simulator.ports import free_ports  # noqa: E402
from medperf_lite.world import FIXTURES, load_fixture_module  # noqa: E402


def children() -> list[int]:
    return [p.pid for p in psutil.Process().children()]


def scenario(name: str) -> dict:
    with PeakMemory(children) as memory:
        ok, workdir, report = simulate(name, echo=False)
    if not ok:
        raise SystemExit(f"the {name} scenario failed; see {workdir}")
    steps = {s["name"]: s for s in report["steps"]}
    fl_start = steps["aggregator start"]["started"]
    last = max(report["steps"], key=lambda s: s["started"] + s["seconds"] if s["kind"] == "wait" else 0)
    fl_end = last["started"] + last["seconds"]
    shutil.rmtree(workdir, ignore_errors=True)
    return {"whole": report["seconds"], "fl_phase": round(fl_end - fl_start, 1), "peak_mb": memory.peak / 1e6,
            "close": steps["training close_event"]["seconds"]}


def prepare_data(root: Path, site: str) -> Path:
    raw = toy_data().generate(root / f"{site}-raw", site)
    out = root / site
    (out / "data").mkdir(parents=True)
    (out / "labels").mkdir()
    prep = FIXTURES / "containers" / "chestxray_prep" / "project" / "prep.py"
    subprocess.run([sys.executable, str(prep), "prepare", "--data_path", str(raw), "--labels_path", str(raw),
                    "--parameters_file", str(FIXTURES / "containers" / "chestxray_prep" / "parameters.yaml"),
                    "--output_path", str(out / "data"), "--output_labels_path", str(out / "labels")],
                   check=True, stdout=subprocess.DEVNULL)
    return out


def raw_nvflare(root: Path, timings: str) -> dict:
    from nvflare.fuel.flare_api.flare_api import new_secure_session
    from nvflare.lighter.provision import prepare_builders, prepare_project
    from nvflare.lighter.provisioner import Provisioner

    node = load_fixture_module("containers/nvflare_node/project/node.py")  # start kits as the node does
    data = {site: prepare_data(root, site) for site in ("col1", "col2")}
    fl_port, admin_port = free_ports(2)
    admin = "testmo@example.com"
    project = {"api_version": 3, "name": "bench", "participants": [
        {"name": "127.0.0.1", "type": "server", "org": "o", "fed_learn_port": fl_port, "admin_port": admin_port},
        {"name": "col1", "type": "client", "org": "o"}, {"name": "col2", "type": "client", "org": "o"},
        {"name": admin, "type": "admin", "org": "o", "role": "project_admin"}],
        "builders": [{"path": "nvflare.lighter.impl.workspace.WorkspaceBuilder"},
                     {"path": "nvflare.lighter.impl.static_file.StaticFileBuilder", "args": {"config_folder": "config"}},
                     {"path": "nvflare.lighter.impl.cert.CertBuilder"},
                     {"path": "nvflare.lighter.impl.signature.SignatureBuilder"}]}
    job = root / "chestxray"  # the tutorial's job, as its training config lays it out
    shutil.copytree(FIXTURES / "training_config" / "jobs" / "chestxray", job, ignore=shutil.ignore_patterns("__pycache__"))
    server_config_path = job / "chestxray" / "config" / "config_fed_server.json"
    server_config = json.loads(server_config_path.read_text())

    started = time.monotonic()
    procs: list[subprocess.Popen] = []
    with PeakMemory(lambda: [p.pid for p in procs]) as memory:
        Provisioner(str(root / "ws"), prepare_builders(json.loads(json.dumps(project)))).provision(
            prepare_project(json.loads(json.dumps(project))))
        prod = root / "ws" / "bench" / "prod_00"
        # the same timings as our node container's generate_plan writes (or NVFlare's defaults)
        node.tune(prod / "127.0.0.1", [prod / "col1", prod / "col2"], server_config, timings)
        server_config_path.write_text(json.dumps(server_config))
        provisioned = time.monotonic()
        for name in ("127.0.0.1", "col1", "col2"):
            kit = prod / name
            node.prepare_workspace(kit)
            env = {**os.environ, "TMPDIR": str(root / "tmp"), "HOME": str(root)}
            if name in data:
                env.update(MEDPERF_DATA_PATH=str(data[name] / "data"), MEDPERF_LABELS_PATH=str(data[name] / "labels"))
            (root / "tmp").mkdir(exist_ok=True)
            procs.append(subprocess.Popen(node.kit_command(kit), cwd=kit, env=env, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL, start_new_session=True))
        os.environ["HOME"] = str(root)
        session = new_secure_session(admin, str(prod / admin), timeout=60)
        while len(session.get_system_info().client_info) < 2:
            time.sleep(0.5)
        connected = time.monotonic()
        job_id = session.submit_job(str(job))
        session.monitor_job(job_id, timeout=600, poll_interval=1)
        status = session.get_job_meta(job_id)["status"]
        job_done = time.monotonic()
        session.download_job_result(job_id)
        session.shutdown("all")
        session.close()
        for p in procs:
            p.wait(120)
        ended = time.monotonic()
    return {"whole": round(ended - started, 1), "provision": round(provisioned - started, 1),
            "connected": round(connected - provisioned, 1), "job": round(job_done - connected, 1),
            "shutdown": round(ended - job_done, 1), "status": status, "peak_mb": memory.peak / 1e6,
            "exit_codes": [p.returncode for p in procs]}


def main() -> None:
    a = scenario("federation")
    tutorial = scenario("tutorial")
    raw = {}
    for timings in ("nvflare", "fast"):
        with tempfile.TemporaryDirectory(prefix="medperf-lite-bench-") as tmp:
            raw[timings] = raw_nvflare(Path(tmp), timings)
    print(f"(a) federation scenario (fast timings): whole {a['whole']:.1f} s, FL phase {a['fl_phase']:.1f} s, "
          f"close_event {a['close']:.1f} s, peak memory {a['peak_mb']:.0f} MB")
    print(f"    tutorial scenario (fast timings): whole {tutorial['whole']:.1f} s, FL phase with the data owners' "
          f"steps {tutorial['fl_phase']:.1f} s, close_event {tutorial['close']:.1f} s")
    for timings, b in raw.items():
        print(f"(b) raw NVFlare, {timings} timings, on 127.0.0.1: {b['whole']:.1f} s (provision {b['provision']} s, "
              f"clients connected {b['connected']} s, job {b['job']} s {b['status']}, download + shutdown "
              f"{b['shutdown']} s), peak memory {b['peak_mb']:.0f} MB, exit codes {b['exit_codes']}")
    for timings, b in raw.items():
        print(f"ratios against raw NVFlare with {timings} timings: FL phase {a['fl_phase'] / b['whole']:.2f} "
              f"(tutorial's, with the data owners' steps, {tutorial['fl_phase'] / b['whole']:.2f}), "
              f"peak memory {a['peak_mb'] / b['peak_mb']:.2f}; "
              f"close_event {a['close']:.1f} s vs download + shutdown {b['shutdown']:.1f} s "
              f"({a['close'] - b['shutdown']:+.1f} s)")


if __name__ == "__main__":
    main()
