"""The cost of a site: `simulate federation --data-owners N` for N = 2, 4, 8, 16, 32, one run each.

Per N: the wall time, the FL phase (aggregator start to every node stopped), the data owners'
registration and preparation, the peak memory of the run's whole process tree (every process
it started; the bench's own aside) and the sites' training CPU time (our training code's
``train_seconds`` per site and round). Then the increments per site against N = 2: seconds
and MB per extra site, and the seconds per extra site beyond that site's own training CPU.

    python bench/scale.py [--owners 2,4,8,16,32] [--images 300] [--breakdown]

``--breakdown`` prints, at each run's peak, the memory by kind of process.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from medperf_lite.simulator.engine import Overrides, simulate  # noqa: E402

MB = 1 << 20


def _kind(process: psutil.Process) -> str:
    """A short name for what a process is, for the breakdown."""
    try:
        line = " ".join(process.cmdline())
    except psutil.Error:
        return "?"
    for pattern, name in ((r"client\.worker_process", "NVFlare job process (site)"),
                          (r"server\.runner_process|server\.server_train|server_train", "NVFlare server"),
                          (r"client\.client_train|client_train", "NVFlare client (site)"),
                          (r"sub_start\.sh|start\.sh", "kit start script"),
                          (r"medperf(-lite)? dataset train|medperf dataset train", "medperf dataset train (CLI)"),
                          (r"medperf(-lite)? aggregator start", "medperf aggregator start (CLI)"),
                          (r"runners\.supervise|medperf_lite\.runners", "runner supervisor"),
                          (r"^bwrap|/bwrap ", "bwrap"), (r"node\.py|admin\.py", "container entry script"),
                          (r"^bash|/bash ", "bash")):
        if re.search(pattern, line):
            return name
    return process.name()


class Peak(threading.Thread):
    """The peak memory of every process under this one (the bench's own aside), sampled: PSS,
    what the processes cost the machine (a page shared by n processes counts 1/n in each: the
    torch and NVFlare libraries every site maps are held once), and RSS, which counts each
    shared page in every process that maps it."""

    def __init__(self, interval: float = 1.0):
        super().__init__(daemon=True)
        self.interval, self.peak, self.peak_rss, self.kinds = interval, 0, 0, {}
        self.cpu: dict[int, tuple[str, float]] = {}  # pid -> (kind, CPU seconds so far), for the breakdown
        self.stop = threading.Event()

    def run(self) -> None:
        me = psutil.Process()
        while not self.stop.wait(self.interval):
            total, rss_total, kinds = 0, 0, defaultdict(lambda: [0, 0, 0])
            for process in me.children(recursive=True):
                try:
                    memory = process.memory_full_info()
                    times = process.cpu_times()
                except psutil.Error:
                    continue
                self.cpu[process.pid] = (self.cpu.get(process.pid, (None,))[0] or _kind(process),
                                         times.user + times.system)
                total += memory.pss
                rss_total += memory.rss
                kind = kinds[_kind(process)]
                kind[0] += memory.pss
                kind[1] += memory.rss
                kind[2] += 1
            self.peak_rss = max(self.peak_rss, rss_total)
            if total > self.peak:
                self.peak, self.kinds = total, dict(kinds)


def one(owners: int, images: int | None, root: Path) -> dict:
    variables = {"OWNERS": owners}
    peak = Peak()
    peak.start()
    started = time.monotonic()
    try:
        ok, workdir, report = simulate("federation", workdir=root / f"owners-{owners}", echo=False,
                                       overrides=Overrides(vars=variables, images=images))
    finally:
        peak.stop.set()
        peak.join()
    wall = time.monotonic() - started
    steps = report["steps"]
    if not ok:
        failed = next((s for s in steps if not s["ok"]), {"name": "?", "detail": "?"})
        raise SystemExit(f"N={owners}: the run failed at '{failed['name']}': {failed['detail'][:300]} (see {workdir})")
    by_name = {s["name"]: s for s in steps}
    fl_start = by_name["aggregator start"]["started"]
    fl_end = max(s["started"] + s["seconds"] for s in steps if s["name"].startswith("training node "))
    owners_steps = [s for s in steps if "dataset submit" in s["name"] or "prepares and joins" in s["name"]]
    registration = max(s["started"] + s["seconds"] for s in owners_steps) - min(s["started"] for s in owners_steps)
    (event,) = report["events"]
    train_cpu = sum(m.get("train_seconds") or 0 for entry in event["history"] for m in entry["sites"].values())
    last_sites = sorted(event["history"][-1]["sites"]) if event["history"] else []
    return {"owners": owners, "wall": wall, "fl": fl_end - fl_start, "registration": registration,
            "peak": peak.peak, "peak_rss": peak.peak_rss, "train_cpu": train_cpu, "sites_last_round": len(last_sites),
            "kinds": peak.kinds, "cpu": _by_kind(peak.cpu)}


def _by_kind(cpu: dict[int, tuple[str, float]]) -> dict[str, float]:
    found: dict[str, float] = defaultdict(float)
    for kind, seconds in cpu.values():
        found[kind] += seconds
    return dict(found)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--owners", default="2,4,8,16,32")
    parser.add_argument("--images", type=int, default=None, help="toy images per owner [the tutorial's 300]")
    parser.add_argument("--breakdown", action="store_true")
    args = parser.parse_args()
    counts = [int(n) for n in args.owners.split(",")]
    print(f"machine: {psutil.cpu_count()} cores, {psutil.virtual_memory().total / (1 << 30):.1f} GiB; "
          f"scenario federation, local runner, {args.images or 300} toy images per owner")
    print("| owners | wall s | FL phase s | registration s | peak MB (PSS) | peak MB (RSS) | sites' training CPU s | "
          "sites in last round |")
    print("|---|---|---|---|---|---|---|---|")
    results = []
    tmp = tempfile.mkdtemp(prefix="bench-scale-")  # kept when a run fails (its logs); removed after a good bench
    for owners in counts:
        r = one(owners, args.images, Path(tmp))
        results.append(r)
        print(f"| {owners} | {r['wall']:.1f} | {r['fl']:.1f} | {r['registration']:.1f} | {r['peak'] / MB:.0f} | "
              f"{r['peak_rss'] / MB:.0f} | {r['train_cpu']:.1f} | {r['sites_last_round']} |", flush=True)
        if args.breakdown:
            for kind, (pss, rss, n) in sorted(r["kinds"].items(), key=lambda item: -item[1][0]):
                print(f"    {kind}: {n} processes, PSS {pss / MB:.0f} MB ({pss / MB / n:.0f} each), "
                      f"RSS {rss / MB:.0f} MB ({rss / MB / n:.0f} each)")
            print("    CPU seconds by kind (sampled each second): " + ", ".join(
                f"{kind} {seconds:.1f}" for kind, seconds in sorted(r["cpu"].items(), key=lambda item: -item[1])))
    base = results[0]
    print()
    print(f"| owners | per extra site (against N={base['owners']}): wall s | FL phase s | MB (PSS) | MB (RSS) | "
          "training CPU s | wall s beyond its training CPU |")
    print("|---|---|---|---|---|---|---|")
    for r in results[1:]:
        extra = r["owners"] - base["owners"]
        wall, fl = (r["wall"] - base["wall"]) / extra, (r["fl"] - base["fl"]) / extra
        mem, rss = (r["peak"] - base["peak"]) / extra / MB, (r["peak_rss"] - base["peak_rss"]) / extra / MB
        cpu = (r["train_cpu"] - base["train_cpu"]) / extra
        print(f"| {r['owners']} | {wall:.2f} | {fl:.2f} | {mem:.0f} | {rss:.0f} | {cpu:.2f} | {wall - cpu:.2f} |")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
