"""The plan before its [y/N]: long strings folded, the summary last, a plan that is not a
mapping shown as it is."""

import json

from medperf_lite.commands.nodes import show_plan


def test_source_files_are_folded_and_the_summary_comes_last(tmp_path, capsys):
    source = "\n".join(f"line {i}" for i in range(95))
    text = ("job_name: chestxray\nmeta: {min_clients: 2}\nserver_config: {workflows: [{args: {num_rounds: 3}}]}\n"
            f"custom:\n  train.py: {json.dumps(source)}\n")
    show_plan(text, tmp_path / "plan.yaml")
    out = capsys.readouterr().out.splitlines()
    assert "  train.py: (95 lines, in the plan file)" in out and not any("line 7" in line for line in out)
    assert out[-1] == f"-- job chestxray, 3 rounds, at least 2 clients; the plan in full: {tmp_path / 'plan.yaml'}"


def test_flower_plans_and_odd_plans(tmp_path, capsys):
    show_plan("config: {num-server-rounds: 5, min-available-nodes: 8}\n", tmp_path / "p.yaml")
    assert capsys.readouterr().out.splitlines()[-1].startswith("-- 5 rounds, at least 8 clients;")
    show_plan("- just\n- a list\n", tmp_path / "p.yaml")
    out = capsys.readouterr().out.splitlines()
    assert out[:2] == ["- just", "- a list"] and out[-1].startswith("-- the plan;")
    show_plan("{not: yaml", tmp_path / "p.yaml")
    assert capsys.readouterr().out.splitlines()[0] == "{not: yaml"
