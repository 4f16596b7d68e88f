"""Role play in a real terminal: the simulator plays every role but one data owner, and a
learner's terminal in tmux (a fresh window per command, each sourcing learner.env as a person
would) types that owner's steps as the simulator announces them, answering the prompts."""

from __future__ import annotations

import os
import re
import subprocess
import time
import uuid

import pytest

from tests.teaching.conftest import need

TURN = re.compile(r"YOUR TURN, as (\S+): .*\n\s+\$ (.+)\n")


class Terminal:
    """A tmux server of the test's own (its own socket), one window per command."""

    def __init__(self, tmux: str):
        self.tmux, self.socket, self.windows = tmux, f"medperf-lite-test-{uuid.uuid4().hex[:8]}", 0
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("MEDPERF_LITE_", "TMUX"))}
        self("new-session", "-d", "-s", "learner", "-x", "200", "-y", "50", "bash --norc --noprofile")

    def __call__(self, *args: str) -> str:
        return subprocess.run([self.tmux, "-L", self.socket, *args], env=self.env, check=True, capture_output=True,
                              text=True, timeout=30).stdout

    def open(self, source: str) -> str:
        """A new window with a shell that has sourced the learner's environment."""
        self.windows += 1
        name = f"w{self.windows}"
        self("new-window", "-t", "learner", "-n", name, "bash --norc --noprofile")
        self.type(name, f"source {source}")
        return name

    def type(self, window: str, line: str) -> None:
        self("send-keys", "-t", f"learner:{window}", "-l", line)
        self("send-keys", "-t", f"learner:{window}", "Enter")

    def screen(self, window: str) -> str:
        return self("capture-pane", "-p", "-t", f"learner:{window}", "-S", "-200")

    def close(self) -> None:
        subprocess.run([self.tmux, "-L", self.socket, "kill-server"], env=self.env, capture_output=True, timeout=30)


def learner_plays(run, terminal: Terminal, source, who: str, deadline: float) -> tuple[list[str], str | None]:
    """Types each step the simulator announces for ``who`` in a fresh window, answering each
    confirmation prompt once, until the run ends: (the commands typed, the node's window)."""
    typed, windows, node = [], {}, None
    while run.proc.poll() is None and time.monotonic() < deadline:
        for actor, command in TURN.findall(run.text())[len(typed):]:
            assert actor == who
            window = terminal.open(str(source))
            terminal.type(window, command)
            typed.append(command)
            windows[window] = 0
            if "dataset train" in command:
                node = window
        for window, answered in windows.items():
            if terminal.screen(window).count("[y/N]:") > answered:
                terminal.type(window, "y")
                windows[window] = answered + 1
        time.sleep(0.3)
    return typed, node


def test_a_learner_plays_the_first_data_owner_in_tmux(simulation):
    terminal = Terminal(need("tmux", "the role-play test drives a learner's terminal"))
    try:
        run = simulation("tutorial", "--play", "testdo@example.com", "--play-timeout", "150")
        source = run.wait_for(run.workdir / "learner.env")
        # a wrong first step (not logged in yet): the simulator hints and keeps waiting
        wrong = terminal.open(str(source))
        deadline = time.monotonic() + 240
        while "YOUR TURN" not in run.text():
            assert run.proc.poll() is None and time.monotonic() < deadline, run.text()[-3000:]
            time.sleep(0.3)
        terminal.type(wrong, "medperf dataset prepare --data_uid 1")
        while "hint:" not in run.text():
            assert run.proc.poll() is None and time.monotonic() < deadline, run.text()[-3000:]
            time.sleep(0.3)
        assert re.search(r"hint: `medperf dataset prepare` failed: you are not logged in", run.text()), run.text()[-2000:]
        # the hint in the learner's own terminal too: at their next prompt
        while "hint: `medperf dataset prepare` failed" not in terminal.screen(wrong):
            terminal.type(wrong, "")
            assert time.monotonic() < deadline, terminal.screen(wrong)
            time.sleep(0.5)
        assert "YOUR TURN, as testdo@example.com" in terminal.screen(wrong)
        typed, node = learner_plays(run, terminal, source, "testdo@example.com", deadline)
        out = run.text()
        assert run.proc.wait(60) == 0, out[-4000:]
        node_screen = terminal.screen(node)
    finally:
        terminal.close()
    assert [c.split()[1:3] for c in typed] == [["auth", "login"], ["dataset", "submit"], ["dataset", "prepare"],
                                              ["dataset", "set_operational"], ["dataset", "associate"],
                                              ["dataset", "train"]], typed
    assert "PASSED: tutorial" in out
    assert "✓ you started `medperf dataset train`" in out
    # the learner's node terminal: milestones, numbered like everywhere else, not the framework's log
    for line in ("training node: site col1 connected (1 of 2)",
                 "training node: waiting for the admin's `medperf training submit_job --training_exp_id 1`",
                 "training node: round 1 of 3 done", "training node: round 3 of 3 done",
                 "training node: training finished (3 of 3 rounds); next: the admin runs `medperf training close_event",
                 "The federation was shut down; training node stopped."):
        assert line in node_screen.replace("\n", ""), node_screen
    assert "(as testdo@example.com)" in node_screen and "its log: " in node_screen
    assert " INFO " not in node_screen, node_screen


@pytest.mark.slow
def test_a_learner_plays_a_data_owner_of_mains_flower_flow(simulation):
    """MedPerf main's flow: the learner's own steps include the certificate commands, and their
    SuperNode runs from their terminal, on this host's network (a followed run)."""
    terminal = Terminal(need("tmux", "the role-play test drives a learner's terminal"))
    try:
        run = simulation("flower_tutorial", "--play", "testdo@example.com", "--play-timeout", "200")
        source = run.wait_for(run.workdir / "learner.env")
        typed, node = learner_plays(run, terminal, source, "testdo@example.com", time.monotonic() + 500)
        out = run.text()
        assert run.proc.wait(60) == 0, out[-4000:]
        node_screen = terminal.screen(node) if node else ""
    finally:
        terminal.close()
    assert "medperf certificate submit_client_certificate --key_type EC" in " ".join(typed), typed
    assert typed[-1].startswith("medperf dataset train"), typed
    assert "PASSED: flower_tutorial" in out and "✓ you started `medperf dataset train`" in out
    assert "(as testdo@example.com)" in node_screen, node_screen


def test_a_learner_who_does_nothing_is_told_and_nothing_is_left(simulation):
    run = simulation("tutorial", "--play", "testdo@example.com", "--play-timeout", "3")
    assert run.proc.wait(300) != 0
    out = run.text()
    assert "the learner did not run `medperf auth login -e testdo@example.com` within 3 s" in out, out[-2000:]
    assert "outlived it" not in out


def test_play_names_the_users_it_can_play(simulation):
    run = simulation("tutorial", "--play", "nobody@example.com")
    assert run.proc.wait(60) == 1
    assert "no step of scenario 'tutorial' acts as nobody@example.com; play one of: testdo2@example.com, " \
           "testdo@example.com, testmo@example.com" in run.text()
