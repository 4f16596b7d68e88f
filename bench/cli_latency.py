"""Median cold start of `medperf --help` and `medperf container ls`, against `python -c pass`
and `nvflare --version`, measured in the same run."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
RUNS = int(os.environ.get("BENCH_RUNS", "9"))


def median_seconds(argv: list[str], env: dict) -> float:
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "MEDPERF_LITE_HOME": home, "MEDPERF_LITE_USER": "testmo@example.com", "HOME": home}
        subprocess.run([str(BIN / "medperf"), "container", "ls"], env=env, stdout=subprocess.DEVNULL, check=True)
        results = {
            "python -c pass": median_seconds([sys.executable, "-c", "pass"], env),
            "nvflare --version": median_seconds([str(BIN / "nvflare"), "--version"], env),
            "medperf --help": median_seconds([str(BIN / "medperf"), "--help"], env),
            "medperf container ls": median_seconds([str(BIN / "medperf"), "container", "ls"], env),
        }
    base = results["python -c pass"]
    for name, seconds in results.items():
        print(f"{name:<22} median {seconds * 1000:7.0f} ms  ({seconds / base:5.1f}x python -c pass, "
              f"{seconds / results['nvflare --version']:4.2f}x nvflare --version)")


if __name__ == "__main__":
    main()
