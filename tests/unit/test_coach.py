"""The teaching aids' pure parts: who acts in each step, which command a step runs, and the
diff of the server's records a guided step shows."""

from medperf_lite.simulator import coach, scenario


def test_the_tutorials_actors_follow_its_logins():
    plan = scenario.load("tutorial")
    actors = coach.acting_users(plan.steps)
    by_name = {s.name: actors[s.index] for s in plan.steps}
    assert by_name["container submit prep"] == "testmo@example.com"
    assert by_name["aggregator start"] == "testmo@example.com"
    assert by_name["dataset submit"] == by_name["dataset train"] == "testdo@example.com"
    assert by_name["collab_shortcut.sh"] == "testdo2@example.com"  # its own user, not the terminal's login
    assert by_name["second data owner's node started"] == "testdo2@example.com"  # a wait on a role: its starter
    assert by_name["training submit_job"] == "testmo@example.com"
    assert by_name["aggregator listening"] is None and by_name["first round done"] is None
    logouts = [actors[s.index] for s in plan.steps if s.name == "medperf auth logout"]
    assert logouts == ["testmo@example.com", "testdo@example.com"]  # whoever was logged in


def test_command_of_reads_the_medperf_command():
    assert coach.command_of("medperf dataset submit --data_prep 2 \\\n  --name x") == "dataset submit"
    assert coach.command_of("cd x && medperf-lite training submit_job -t 1") == "training submit_job"
    assert coach.command_of("bash medperf_tutorial/collab_shortcut.sh") is None
    assert coach.command_of("echo 'unbalanced") is None


def test_diff_lists_added_removed_and_changed_records():
    before = {"datasets": {1: {"name": "a", "state": "DEVELOPMENT", "prepared": False}}, "users": {1: {"email": "x"}}}
    after = {"datasets": {1: {"name": "a", "state": "OPERATION", "prepared": False}, 2: {"name": "b"}}, "users": {}}
    assert coach.diff(before, after) == ["~ dataset 1: state DEVELOPMENT → OPERATION", "+ dataset 2 'b'", "- user 1"]
    many = {"events": {i: {"name": str(i)} for i in range(20)}}
    lines = coach.diff({}, many, limit=5)
    assert len(lines) == 6 and lines[-1] == "… and 15 more changes"
    assert coach.diff(after, after) == []

