"""Role play checks who ran the step: the journal records the acting user, and only the
learner's own command, not its help nor one run as somebody else, counts as their step."""

from medperf_lite.simulator import coach, scenario


def test_only_the_learners_own_command_counts_as_their_step(tmp_path):
    """Its help does nothing, and a command run as another user (MEDPERF_LITE_USER=...) is not
    the learner's: both get a hint, and the step waits for the learner's own command."""
    import threading
    import time

    from medperf_lite.journal import Journal

    journal, said = Journal(tmp_path), []
    learner = coach.Learner("testdo@example.com", tmp_path, said.append, timeout=10, poll=0.05,
                            hints=tmp_path / "learner.hints")
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
    # what the simulator's window said, the learner's terminal shows at its next prompt
    assert (tmp_path / "learner.hints").read_text() == "".join(line + "\n" for line in said)


def test_a_running_command_shows_its_user_from_the_start(tmp_path):
    from medperf_lite.journal import Journal

    journal = Journal(tmp_path)
    key = journal.begin(["dataset", "train", "-d", "1", "-t", "1"], "testdo")
    journal.acting(key, "testdo@example.com")
    (entry,) = journal.entries()
    assert entry.user == "testdo@example.com" and entry.running and entry.ended is None
    journal.end(key, 0, "testdo@example.com")
    assert journal.entries()[0].exit == 0 and journal.entries()[0].user == "testdo@example.com"


def test_a_role_counts_as_started_only_once_past_its_prompt(tmp_path):
    """`dataset train` waiting at its [y/N] is running but not yet a training node: the learner's
    step is done only when the command marks its role running (past the prompt)."""
    import threading
    import time

    from medperf_lite.journal import Journal

    journal, said = Journal(tmp_path), []
    learner = coach.Learner("testdo@example.com", tmp_path, said.append, timeout=10, poll=0.05)
    step = scenario.Step("start", "train", {"start": "medperf dataset train -d 1 -t 1", "role": "col1"}, 20)
    key = journal.begin(["dataset", "train", "-d", "1", "-t", "1"], coach.LEARNER_PROFILE)
    journal.acting(key, "testdo@example.com")
    marked = []

    def answers_later():
        time.sleep(0.8)
        marked.append(time.monotonic())
        journal.mark(key, "role")

    threading.Thread(target=answers_later).start()
    entry = learner.turn(step, "medperf dataset train -d 1 -t 1", long_running=True)
    assert marked and time.monotonic() >= marked[0] and entry.marks == ["role"]
    assert any("you started `medperf dataset train`" in line for line in said)
