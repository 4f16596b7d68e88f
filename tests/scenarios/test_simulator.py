"""The simulator itself: failures name the step and role, nothing outlives a run, even a
failed or interrupted one."""

import signal
import subprocess
import time
import uuid
from pathlib import Path

import psutil

from medperf_lite.simulator.engine import simulate
from tests.helpers import BIN


def scenario(tmp_path, text: str) -> Path:
    path = tmp_path / "case.yaml"
    path.write_text(text)
    return path


def processes_with(marker: str) -> list[int]:
    found = []
    for process in psutil.process_iter():
        try:
            if marker in " ".join(process.cmdline()):
                found.append(process.pid)
        except psutil.Error:
            pass
    return found


def test_failed_step_reports_step_role_and_log_and_leaves_nothing(tmp_path):
    marker = f"sleep {300 + uuid.uuid4().int % 1000}"
    path = scenario(tmp_path, f"""
name: failing
tutorial_init: false
steps:
  - start: echo node is up; {marker}
    role: node
  - wait: {{role: node, log: "node is up", timeout: 20}}
  - run: echo about to fail; exit 3
    name: the failing step
  - run: echo never runs
""")
    junit = tmp_path / "junit.xml"
    ok, workdir, report = simulate(str(path), workdir=tmp_path / "run", echo=False, junit=junit)
    assert not ok
    failed = [s for s in report["steps"] if not s["ok"]]
    assert [s["name"] for s in failed] == ["the failing step"]
    assert failed[0]["detail"] == "exit code 3, expected 0" and failed[0]["log_tail"] == ["about to fail"]
    assert len(report["steps"]) == 3
    assert 'failures="1"' in junit.read_text()
    assert not processes_with(marker) and not report["orphans"]


def test_role_log_is_shown_when_a_role_dies_early(tmp_path):
    path = scenario(tmp_path, """
name: role_dies
tutorial_init: false
steps:
  - start: echo cannot start; exit 4
    role: aggregator
  - wait: {role: aggregator, log: "never printed", timeout: 20}
""")
    ok, _, report = simulate(str(path), workdir=tmp_path / "run", echo=False)
    assert not ok
    step = report["steps"][-1]
    assert step["role"] == "aggregator" and step["log_tail"] == ["cannot start"]
    assert step["detail"].startswith("role 'aggregator': its command exited with exit code 4. First error: cannot start.")
    assert [f["role"] for f in step["failures"]] == ["aggregator"] and step["seconds"] < 15


def test_interrupt_stops_every_role(tmp_path):
    marker = f"sleep {1300 + uuid.uuid4().int % 1000}"
    path = scenario(tmp_path, f"""
name: interrupted
tutorial_init: false
steps:
  - start: {marker}
    role: node
  - run: sleep 120
""")
    # Ctrl-C as in a terminal: SIGINT at its default even where this suite runs as a background
    # job (which inherits SIGINT ignored, and so would the simulator)
    proc = subprocess.Popen([str(BIN / "medperf-lite"), "simulate", str(path), "--workdir", str(tmp_path / "run")],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 30
    while not processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert processes_with(marker), "the role never started"
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode != 0 and "FAILED" in output
    assert not processes_with(marker)


def test_simulate_sets_a_scenario_variable_from_the_command_line(tmp_path):
    path = scenario(tmp_path, """
name: variables
tutorial_init: false
vars: {GREETING: hello}
steps:
  - run: echo "{{GREETING}} from {{WHO}}"
    expect: {output: "bonjour from the command line"}
""")
    env_run = [str(BIN / "medperf-lite"), "simulate", str(path), "--workdir", str(tmp_path / "run"),
               "--var", "GREETING=bonjour", "--var", "WHO=the command line"]
    done = subprocess.run(env_run, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    bad = subprocess.run([*env_run[:5], "--var", "no-equals-sign"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1 and bad.stderr.startswith("Error: --var takes KEY=VALUE"), bad.stderr
