"""Seconds from an injected fault to the failed step of `simulate tutorial`, per fault
(simulator.faults), against the wait's own timeout and the whole happy tutorial measured in
the same run: the target is a failed step within 15 s of the fault.

    python bench/faults.py [--containers ../shared/medperf-examples] [FAULT ...]

With --containers, the faults are injected into MedPerf's own containers and training config
(scenario tests/compat/real_tutorial.yaml), where only processes and logs tell.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from medperf_lite.simulator import faults
from medperf_lite.simulator.engine import DEFAULT_TIMEOUT, Overrides, simulate

REAL_SCENARIO = Path(__file__).resolve().parent.parent / "tests" / "compat" / "real_tutorial.yaml"
TARGET = 15.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("faults", nargs="*", default=list(faults.FAULTS))
    parser.add_argument("--containers", type=Path, default=None)
    args = parser.parse_args()
    name = str(REAL_SCENARIO) if args.containers else "tutorial"
    with tempfile.TemporaryDirectory(prefix="bench-faults-") as tmp:
        started = time.monotonic()
        overrides = Overrides(source=args.containers.resolve()) if args.containers else None
        ok, _, _ = simulate(name, workdir=Path(tmp) / "happy", echo=False, overrides=overrides)
        happy = time.monotonic() - started
        print(f"reference: the happy {name} run in {happy:.1f} s ({'passed' if ok else 'FAILED'}); "
              f"a wait's timeout is {DEFAULT_TIMEOUT:.0f} s")
        print("| fault | failed step | s from fault to failure | / target 15 s | / wait timeout | processes left | cause |")
        print("|---|---|---|---|---|---|---|")
        for fault in args.faults:
            report = faults.play(fault, Path(tmp) / fault, source=args.containers.resolve() if args.containers else None,
                                 scenario_name=name)
            failed, seconds = report["failed"], report["to_failure"]
            cause = (failed["detail"].splitlines() or ["-"])[0][:160] if failed else "the run passed"
            ratio = f"{seconds / TARGET:.2f}" if seconds is not None else "-"
            timeout = f"{seconds / DEFAULT_TIMEOUT:.3f}" if seconds is not None else "-"
            print(f"| {fault} | {failed['name'] if failed else '-'} | {seconds} | {ratio} | {timeout} | "
                  f"{len(report['orphans'])} | {cause} |", flush=True)


if __name__ == "__main__":
    main()
