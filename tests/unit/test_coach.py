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


def test_only_the_learners_own_command_counts_as_their_step(tmp_path):
    """Its help does nothing, and a command run as another user (MEDPERF_LITE_USER=...) is not
    the learner's: both get a hint, and the step waits for the learner's own command."""
    import threading
    import time

    from medperf_lite.journal import Journal

    journal, said = Journal(tmp_path), []
    learner = coach.Learner("testdo@example.com", tmp_path, said.append, timeout=10, poll=0.05)
    step = scenario.Step("run", "dataset submit", {"run": "medperf dataset submit -p 1"}, 3)

    def learner_types():
        time.sleep(0.3)
        for argv, user in ((["dataset", "submit", "--help"], None), (["dataset", "submit", "-p", "1"], "testdo2@example.com"),
                           (["dataset", "submit", "-p", "1"], "testdo@example.com")):
            key = journal.begin(argv, coach.LEARNER_PROFILE)
            if user:
                journal.acting(key, user)
            journal.end(key, 0, user)
            time.sleep(0.3)

    typing = threading.Thread(target=learner_types)
    typing.start()
    entry = learner.turn(step, "medperf dataset submit -p 1", long_running=False)
    typing.join()
    assert entry.user == "testdo@example.com" and not entry.help
    hints = [line for line in said if "hint" in line]
    assert "that was the help of `medperf dataset submit`" in hints[0]
    assert "ran as testdo2@example.com, not as you (testdo@example.com)" in hints[1]


def test_a_running_command_shows_its_user_from_the_start(tmp_path):
    from medperf_lite.journal import Journal

    journal = Journal(tmp_path)
    key = journal.begin(["dataset", "train", "-d", "1", "-t", "1"], "testdo")
    journal.acting(key, "testdo@example.com")
    (entry,) = journal.entries()
    assert entry.user == "testdo@example.com" and entry.running and entry.ended is None
    journal.end(key, 0, "testdo@example.com")
    assert journal.entries()[0].exit == 0 and journal.entries()[0].user == "testdo@example.com"
