"""The plan before its [y/N]: a summary of a few lines (job, rounds, minimum clients, hash,
sections, where it is in full); --show-plan prints the whole plan first, as MedPerf does."""

import hashlib
import json

from medperf_lite.commands.nodes import show_plan

SOURCE = "\n".join(f"line {i}" for i in range(95))
TEXT = ("job_name: chestxray\nmeta: {min_clients: 2}\nserver_config: {workflows: [{args: {num_rounds: 3}}]}\n"
        f"custom:\n  train.py: {json.dumps(SOURCE)}\n  net.py: x\n")


def test_a_summary_of_a_few_lines_by_default(tmp_path, capsys):
    show_plan(TEXT, tmp_path / "plan.yaml")
    out = capsys.readouterr().out.splitlines()
    digest = hashlib.sha256(TEXT.encode()).hexdigest()[:16]
    assert out == [f"The plan: job chestxray, 3 rounds, at least 2 clients; sha256 {digest}",
                   "  sections: job_name, meta, server_config, custom (train.py, net.py)",
                   f"  in full: {tmp_path / 'plan.yaml'} (--show-plan prints it here)"]


def test_show_plan_prints_it_whole_then_the_summary(tmp_path, capsys):
    show_plan(TEXT, tmp_path / "plan.yaml", full=True)
    out = capsys.readouterr().out
    assert out.startswith(TEXT.rstrip() + "\n") and "line 94" in out
    assert out.splitlines()[-1] == f"  in full: {tmp_path / 'plan.yaml'}"


def test_flower_plans_and_odd_plans(tmp_path, capsys):
    show_plan("config: {num-server-rounds: 5, min-available-nodes: 8}\n", tmp_path / "p.yaml")
    assert capsys.readouterr().out.startswith("The plan: 5 rounds, at least 8 clients; sha256 ")
    for odd in ("- just\n- a list\n", "{not: yaml"):
        show_plan(odd, tmp_path / "p.yaml")
        out = capsys.readouterr().out.splitlines()
        assert out[0].startswith("The plan: no job, rounds or clients named; sha256 ") and len(out) == 2
