"""Guided mode: each step explained (the scenario's words or the command's), who acts, a
pause until Enter (or --auto seconds), then the server records the step changed."""

from __future__ import annotations

import subprocess

import pytest

from tests.helpers import BIN, cli_env

SCENARIO = """
name: guided
tutorial_init: false
steps:
  - run: medperf auth login -e testmo@example.com
  - run: medperf training submit --name e --description d --prep-container 1 --fl-container 1
    name: training submit
    explain: Our own words for this step.
  - run: medperf training ls
"""


def simulate(tmp_path, *args, stdin=""):
    scenario = tmp_path / "guided.yaml"
    scenario.write_text(SCENARIO)
    return subprocess.run([str(BIN / "medperf-lite"), "simulate", str(scenario), "--workdir", str(tmp_path / "run"),
                           *args], env=cli_env(tmp_path / "caller"), input=stdin, capture_output=True, text=True,
                          timeout=120)


def test_guide_explains_waits_for_enter_and_shows_the_change(tmp_path):
    done = simulate(tmp_path, "--guide", stdin="\n\n\n")
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert "── step 1 of 3: medperf auth login -e testmo@example.com (as testmo@example.com)\n" \
           "   Sign in as this user. Every later command in this terminal acts as them, until the next login.\n" \
           "   $ medperf auth login -e testmo@example.com\n   [Enter] runs it\n" in out
    assert "── step 2 of 3: training submit (as testmo@example.com)\n   Our own words for this step.\n" in out
    assert "      server: + experiment 1 'e'\n" in out
    assert out.count("[Enter] runs it") == 3 and "server: no change" in out  # `training ls` changes nothing
    # each step's own output too: what `training ls` lists, which the tutorial asks you to note
    listing = out.split("── step 3 of 3", 1)[1]
    assert "      │ " in listing and any(line.startswith("      │ ") and " e " in f"{line} " for line in listing.splitlines())


def test_guide_auto_goes_on_by_itself(tmp_path):
    done = simulate(tmp_path, "--guide", "--auto", "0")
    assert done.returncode == 0 and "[Enter]" not in done.stdout and "server: + experiment 1 'e'" in done.stdout


def test_auto_needs_guide(tmp_path):
    done = simulate(tmp_path, "--auto", "2")
    assert done.returncode == 1 and done.stderr.strip() == "Error: --auto takes seconds >= 0 and goes with --guide"


@pytest.mark.slow
def test_guide_plays_mains_flower_flow(tmp_path):
    """MedPerf main's flow guided (--auto 0): each step explained with who acts, main's commands
    too, and the run passes; a guided run keeps every role on this host's network."""
    done = subprocess.run([str(BIN / "medperf-lite"), "simulate", "flower_tutorial", "--guide", "--auto", "0",
                           "--workdir", str(tmp_path / "run")], env=cli_env(tmp_path / "caller"), capture_output=True,
                          text=True, timeout=900)
    out = done.stdout
    assert done.returncode == 0, out[-3000:] + done.stderr
    assert "── step 1 of " in out and "(as testmo@example.com)" in out
    assert "training set_aggregator (as testmo@example.com)" in out
    assert "signing certificate (testdo@example.com) (as testdo@example.com)" in out
    assert "server: + certificate" in out or "server: " in out
    assert "PASSED: flower_tutorial" in out


def test_guide_goes_on_with_the_live_pages_next(tmp_path):
    """--guide --web with no terminal to press Enter in: each step waits until the page's Next
    (a POST with the page's own header; one without it is refused and runs nothing)."""
    import json
    import time
    import urllib.error
    import urllib.request

    scenario = tmp_path / "guided.yaml"
    scenario.write_text(SCENARIO)
    run = subprocess.Popen([str(BIN / "medperf-lite"), "simulate", str(scenario), "--workdir", str(tmp_path / "run"),
                            "--guide", "--web"], env=cli_env(tmp_path / "caller"), stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url_file, deadline = tmp_path / "run" / "live.url", time.monotonic() + 60
        while not url_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        url = url_file.read_text()

        def state():
            with urllib.request.urlopen(url + "state.json", timeout=5) as answer:
                return json.load(answer)

        def post(headers):
            request = urllib.request.Request(url + "next", data=b"", headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=5) as answer:
                    return answer.status
            except urllib.error.HTTPError as e:
                return e.code

        for step in (1, 2, 3):
            while not state()["next"]:
                assert time.monotonic() < deadline and run.poll() is None, run.stdout.read()
                time.sleep(0.1)
            time.sleep(0.5)
            done = sum(s["status"] == "ok" for s in state()["steps"])
            assert done == step - 1 and post({}) == 403 and state()["next"], "refused: nothing ran"
            assert post({"X-Medperf-Lite": "next"}) == 200
        out, _ = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert run.returncode == 0, out
    assert out.count("[Enter] runs it (or Next on the live page)") == 3 and "PASSED: guided" in out
