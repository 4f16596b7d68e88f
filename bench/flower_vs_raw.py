"""MedPerf main's flow (Flower) against the same app on raw Flower, measured in one run.

(a) `medperf-lite simulate flower_tutorial` (local runner, a site per network namespace): its
    FL phase runs from `aggregator start` to every node stopped: the aggregator (SuperLink,
    its participants' keys registered, `flwr run`), both training nodes (SuperNodes), a status
    check through the admin container and close_event, all through the CLI, our containers,
    the CA's certificates and TLS;
(b) raw Flower, no MedPerf around it: our Flower node image's own flwr, on 127.0.0.1, started
    by hand as Flower's deployment guide does: a SuperLink, two SuperNodes with the same
    prepared data, `flwr run` of the same app (fixtures/containers/flower_node/project/app)
    with the same training config, until the run ends and every process is stopped. Without
    TLS and node authentication (`--insecure`): the reference is Flower's own cost.
Prints the times, the peak memory of each process tree, and the ratios.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.proctree import PeakMemory  # noqa: E402
from bench.tutorial_vs_nvflare import prepare_data  # noqa: E402
from medperf_lite import settings  # noqa: E402
from medperf_lite.containers.images import build_local  # noqa: E402
from medperf_lite.containers.substitutions import SUBSTITUTIONS  # noqa: E402
from medperf_lite.files import FIXTURES  # noqa: E402
from medperf_lite.simulator.engine import simulate  # noqa: E402
from medperf_lite.simulator.ports import free_ports  # noqa: E402

NODE = FIXTURES / "containers" / "flower_node"


def children() -> list[int]:
    return [p.pid for p in psutil.Process().children()]


def ours() -> dict:
    with PeakMemory(children) as memory:
        ok, workdir, report = simulate("flower_tutorial", echo=False)
    if not ok:
        raise SystemExit(f"the flower_tutorial scenario failed; see {workdir}")
    steps = {s["name"]: s for s in report["steps"]}
    fl_start = steps["aggregator start"]["started"]
    last = max((s for s in report["steps"] if s["kind"] == "wait"), key=lambda s: s["started"] + s["seconds"])
    shutil.rmtree(workdir, ignore_errors=True)
    return {"whole": report["seconds"], "fl_phase": round(last["started"] + last["seconds"] - fl_start, 1),
            "peak_mb": memory.peak / 1e6, "rounds": steps["training finished (every round)"]["seconds"]
            + steps["first round done"]["seconds"]}


def listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def raw_flower(root: Path) -> dict:
    image, _ = build_local(NODE, settings.current(), substitutions=SUBSTITUTIONS, echo=lambda *_: None)
    bin_dir = image.path / "venv" / "bin"
    data = {site: prepare_data(root, site) for site in ("col1", "col2")}
    app = root / "app"
    shutil.copytree(NODE / "project" / "app", app, ignore=shutil.ignore_patterns("__pycache__"))
    fleet, control, serverappio, *clientappio = free_ports(5)
    training = {**yaml.safe_load((NODE / "training_config.yaml").read_text()), "min-nodes": 2}
    text = (app / "pyproject.toml").read_text()
    head, _, _ = text.partition("[tool.flwr.app.config]")  # the run config and the federation, as node.py sets them
    (app / "pyproject.toml").write_text(
        head + "[tool.flwr.app.config]\n" + "".join(f'"{k}" = {v!r}\n' for k, v in training.items())
        + f'\n[tool.flwr.federations]\ndefault = "medperf"\n\n[tool.flwr.federations.medperf]\n'
          f'address = "127.0.0.1:{control}"\ninsecure = true\n')
    (root / "weights").mkdir()
    env = {**os.environ, "FLWR_HOME": str(root / "flwr_home"), "PYTHONUNBUFFERED": "1",
           "PATH": f"{bin_dir}:{os.environ['PATH']}", "FLOWER_NODE_REPORT": str(root / "report.yaml"),
           "FLOWER_NODE_WEIGHTS": str(root / "weights"), "FLOWER_NODE_INITIAL": str(root / "none")}
    log = open(root / "flower.log", "wb")
    procs: list[subprocess.Popen] = []
    started = time.monotonic()
    with PeakMemory(lambda: [p.pid for p in procs]) as memory:
        try:
            procs.append(subprocess.Popen(
                [str(bin_dir / "flower-superlink"), "--insecure", "--fleet-api-address", f"127.0.0.1:{fleet}",
                 "--control-api-address", f"127.0.0.1:{control}", "--serverappio-api-address",
                 f"127.0.0.1:{serverappio}"], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
            while not (listening(fleet) and listening(control)):
                time.sleep(0.1)
            for (site, folder), port in zip(data.items(), clientappio, strict=True):
                config = f'data-path="{folder / "data"}" labels-path="{folder / "labels"}" site="{site}"'
                procs.append(subprocess.Popen(
                    [str(bin_dir / "flower-supernode"), "--insecure", "--superlink", f"127.0.0.1:{fleet}",
                     "--clientappio-api-address", f"127.0.0.1:{port}", "--node-config", config],
                    env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
            ready = time.monotonic()
            run = subprocess.run([str(bin_dir / "flwr"), "run", str(app), "medperf", "--stream"], env=env,
                                 stdout=log, stderr=subprocess.STDOUT)
            trained = time.monotonic()
        finally:
            for proc in reversed(procs):
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGTERM)
            for proc in procs:
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
            log.close()
        ended = time.monotonic()
    report = yaml.safe_load((root / "report.yaml").read_text()) if (root / "report.yaml").exists() else {}
    if run.returncode != 0 or not report.get("finished"):
        raise SystemExit(f"raw Flower's run did not finish (flwr run exited {run.returncode}); see {root}/flower.log")
    return {"whole": round(ended - started, 1), "up": round(ready - started, 1), "run": round(trained - ready, 1),
            "stop": round(ended - trained, 1), "peak_mb": memory.peak / 1e6, "rounds": report["rounds_done"],
            "accuracy": report["history"][-1]["global_val_acc"]}


def main() -> None:
    a = ours()
    with tempfile.TemporaryDirectory(prefix="medperf-lite-bench-flower-") as tmp:
        b = raw_flower(Path(tmp))
    print(f"(a) flower_tutorial scenario: whole {a['whole']:.1f} s, FL phase {a['fl_phase']:.1f} s "
          f"(first round to the last {a['rounds']:.1f} s), peak memory {a['peak_mb']:.0f} MB")
    print(f"(b) raw Flower on 127.0.0.1: {b['whole']:.1f} s (SuperLink and SuperNodes up {b['up']} s, flwr run "
          f"{b['run']} s for {b['rounds']} rounds, global accuracy {b['accuracy']}, stop {b['stop']} s), "
          f"peak memory {b['peak_mb']:.0f} MB")
    print(f"ratios against raw Flower: FL phase {a['fl_phase'] / b['whole']:.2f}, "
          f"peak memory {a['peak_mb'] / b['peak_mb']:.2f}")


if __name__ == "__main__":
    main()
