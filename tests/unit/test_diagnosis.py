"""The one-paragraph diagnosis (medperf_lite.diagnosis) and the waits that end when a run can
no longer succeed (simulator.waits), on hand-made logs, processes and states."""

import subprocess
import sys

import pytest

from medperf_lite import diagnosis
from medperf_lite.commands.watch import LogScanner, failures_of_progress
from medperf_lite.simulator import waits

NVFLARE_LOG = """2026-12-01 16:53:14,339 - ClientAPIExecutor - INFO - task train
2026-12-01 16:53:19,699 - TaskScriptRunner - ERROR - Traceback (most recent call last):
  File "/venv/lib/python3.11/site-packages/nvflare/app_common/executors/task_script_runner.py", line 95, in run
    runpy.run_path(self.script_full_path, run_name="__main__")
  File "<frozen runpy>", line 291, in run_path
  File "/ws/job/app_col1/custom/train.py", line 77, in main
    steps, loss = train(net, train_data)
                  ^^^^^^^^^^^^^^^^^^^^^^
  File "/ws/job/app_col1/custom/train.py", line 50, in train
    x = x * weight_decay_factor
            ^^^^^^^^^^^^^^^^^^^
  File "/venv/lib/python3.11/site-packages/torch/nn/functional.py", line 9, in helper
    raise NameError("name 'weight_decay_factor' is not defined")
NameError: name 'weight_decay_factor' is not defined

2026-12-01 16:53:20,093 - InProcessClientAPI - ERROR - ask to abort job: reason: 'train' is aborted
Traceback (most recent call last):
  File "/ws/other.py", line 3, in f
ZeroDivisionError: division by zero
"""


def test_the_first_traceback_names_the_exception_and_the_authors_last_frame():
    found = diagnosis.first_error(NVFLARE_LOG)
    assert found == diagnosis.Found("NameError: name 'weight_decay_factor' is not defined", "custom/train.py:50")
    assert str(found) == "NameError: name 'weight_decay_factor' is not defined (at custom/train.py:50)"


def test_a_chained_traceback_reports_the_exception_that_ended_it():
    text = ('Traceback (most recent call last):\n  File "/p/a.py", line 1, in f\nKeyError: 1\n\n'
            'During handling of the above exception, another exception occurred:\n\n'
            'Traceback (most recent call last):\n  File "/p/b.py", line 7, in g\nValueError: bad\n')
    assert diagnosis.first_error(text) == diagnosis.Found("ValueError: bad", "p/b.py:7")


def test_an_unfinished_traceback_is_not_an_error_yet_and_lines_stand_in_without_one():
    assert diagnosis.first_traceback('x\nTraceback (most recent call last):\n  File "/p/a.py", line 1, in f\n') is None
    assert diagnosis.first_error("ok\nfatal: cannot open data\nbye\n") == diagnosis.Found("fatal: cannot open data")
    assert diagnosis.first_error("all good\n") is None
    assert diagnosis.last_line("a\n\x1b[31mkilled by signal 9\x1b[0m\n\n") == diagnosis.Found("killed by signal 9")


def test_a_failure_is_one_paragraph_and_travels_as_a_record(tmp_path):
    log = tmp_path / "train.log"
    log.write_text(NVFLARE_LOG)
    failure = diagnosis.Failure.of("col1", "its command exited", log, 3, site="testdo@example.com")
    assert failure.paragraph() == (
        "role 'col1' (site testdo@example.com): its command exited with exit code 3. First error: NameError: name "
        f"'weight_decay_factor' is not defined, at custom/train.py:50. Log: {log}")
    record = failure.record()
    assert record["text"] == failure.paragraph()
    assert diagnosis.Failure.from_record({**record, "exit_code": "3"}) == failure
    quiet = tmp_path / "quiet.log"
    quiet.write_text("starting\nthe NVFlare process was killed by signal 9\n")
    assert diagnosis.Failure.of("aggregator", "its command exited", quiet, 137).error == \
        "the NVFlare process was killed by signal 9"


def test_the_log_scanner_reads_only_new_whole_tracebacks(tmp_path):
    log = tmp_path / "task.log"
    log.write_text("line 1\n")
    scan = LogScanner(log)
    assert scan() is None
    head, tail = NVFLARE_LOG.split("NameError: name", 1)
    with open(log, "a") as f:
        f.write(head)
    assert scan() is None  # being written
    with open(log, "a") as f:
        f.write("NameError: name" + tail)
    assert scan() == diagnosis.Found("NameError: name 'weight_decay_factor' is not defined", "custom/train.py:50")
    assert scan() is not None and LogScanner(tmp_path / "missing.log")() is None


def test_a_failed_job_in_the_progress_report_names_each_site_first():
    progress = {"rounds_done": 0, "failure": {"status": "FINISHED:EXECUTION_EXCEPTION",
                                              "logs": {"server": "Traceback (most recent call last):\n"
                                                                 '  File "/s/fedavg.py", line 63, in run\n'
                                                                 "ZeroDivisionError: Weights sum to zero\n",
                                                       "col1": NVFLARE_LOG}}}
    col1, server = failures_of_progress(progress)
    assert (col1.role, col1.ended, col1.error, col1.where) == (
        "col1", "the FL job ended FINISHED:EXECUTION_EXCEPTION", "NameError: name 'weight_decay_factor' is not defined",
        "custom/train.py:50")
    assert (server.role, server.where) == ("server", "s/fedavg.py:63")
    assert [f.ended for f in failures_of_progress({"failure": {"status": "FAILED"}})] == ["the FL job ended FAILED"]
    assert failures_of_progress({"rounds_done": 3}) == failures_of_progress(None) == []


def process(code: int | None):
    if code is None:
        return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    proc = subprocess.Popen([sys.executable, "-c", f"raise SystemExit({code})"])
    proc.wait()
    return proc


@pytest.fixture
def roles():
    found = {"aggregator": process(None), "col1": process(0), "col2": process(None)}
    yield found
    for proc in found.values():
        proc.kill()
        proc.wait()


def test_a_role_that_exits_unexpectedly_ends_a_wait_at_once(roles, tmp_path, monkeypatch):
    monkeypatch.setattr(waits, "SETTLE", 0.0)
    (tmp_path / "role-col1.log").write_text("fatal: the dataset is gone\n")
    watch = waits.Watch(roles, tmp_path, dict)
    with pytest.raises(waits.CannotSucceed) as e:
        waits.until(lambda: None, 30, watch)
    assert [f.role for f in e.value.failures] == ["col1"]
    assert str(e.value) == ("role 'col1': its command exited with exit code 0. First error: fatal: the dataset is gone. "
                            f"Log: {tmp_path / 'role-col1.log'}")
    watch.check(soft=False, roles=False)  # a running step (one that closes the event) does not look at roles
    watch.expect_exit("col1")  # killed by a step, or its exit awaited: no failure
    assert waits.until(lambda: None, 0.5, watch) is None
    assert waits.until(lambda: "done", 1, watch) == "done"


def test_recorded_failures_end_a_wait_hard_at_once_soft_after_a_grace(roles, tmp_path, monkeypatch):
    monkeypatch.setattr(waits, "SETTLE", 0.0)
    monkeypatch.setattr(waits, "SOFT_GRACE", 0.6)
    soft = diagnosis.Failure("training node", "testdo@example.com", diagnosis.LOG_ERROR, None, "ValueError: x").record()
    state = {"events": {1: {"name": "e", "status": "OPEN", "progress": None, "failures": [soft]}}}
    watch = waits.Watch(roles, tmp_path, lambda: state, expected={"col1"})
    watch.check()  # seen now, still in its grace
    with pytest.raises(waits.CannotSucceed):
        waits.until(lambda: None, 5, watch)
    watch.check(soft=False)  # a retried step does not wait for soft errors
    hard = diagnosis.Failure("aggregator", None, "the FL job ended FAILED").record()
    state["events"][1]["failures"].append(hard)
    with pytest.raises(waits.CannotSucceed) as e:
        watch.check(soft=False)
    assert [f.ended for f in e.value.failures] == ["the FL job ended FAILED", diagnosis.LOG_ERROR]
    watch.tolerate_failures()  # a step injected a fault: what the event records is expected
    watch.check()


def test_a_wait_on_an_event_fails_when_it_was_closed(roles, tmp_path, monkeypatch):
    monkeypatch.setattr(waits, "SETTLE", 0.0)
    state = {"events": {1: {"name": "e", "status": "CANCELLED", "progress": None, "failures": []}}}
    watch = waits.Watch(roles, tmp_path, lambda: state, expected={"col1"})
    watch.check()
    with pytest.raises(waits.CannotSucceed, match="event 'e' was closed \\(CANCELLED\\)"):
        watch.check(needs_open=True)


def test_the_likeliest_cause_comes_first_and_each_once():
    soft = diagnosis.Failure("col1", None, diagnosis.LOG_ERROR, None, "RuntimeError: aborted", "custom/train.py:9")
    exited = diagnosis.Failure("col2", None, "its command exited", 1, "Error: task 'train' failed: boom (log: x)")
    cause = diagnosis.Failure("col2", None, "task exited", 3, "boom")
    job = diagnosis.Failure("aggregator", None, "the FL job ended FAILED", None, "NameError: x", "custom/train.py:5")
    assert waits.likeliest_first([soft, exited, cause, job, job]) == [job, cause, soft]
    # a job process that ended after another site's error: the error in the author's code is the cause
    aborted = diagnosis.Failure("col2", None, diagnosis.CHILD_ENDED, None, "child worker process finished with RC 1")
    logged = diagnosis.Failure("col1", None, diagnosis.LOG_ERROR, None, "ValueError: late")
    assert waits.likeliest_first([logged, aborted, soft]) == [soft, aborted, logged]


def test_a_line_that_reports_a_non_zero_exit_is_an_error_in_the_log(tmp_path):
    assert diagnosis.child_exit("run (j1): child worker process finished with RC 0\n") is None
    assert diagnosis.child_exit("x\n\x1b[38mrun (j1): child worker process finished with RC -9\x1b[0m\n") == \
        diagnosis.Found("run (j1): child worker process finished with RC -9", ended=diagnosis.CHILD_ENDED)
    assert diagnosis.child_exit("worker exited with code 2\n") == \
        diagnosis.Found("worker exited with code 2", ended=diagnosis.CHILD_ENDED)
    assert diagnosis.child_exit("returncode=1\n") and not diagnosis.child_exit("exit code 0; RC 0\n")
    log = tmp_path / "task.log"
    log.write_text("a\nchild worker process finished with RC 1\n")
    assert LogScanner(log)() == diagnosis.Found("child worker process finished with RC 1", ended=diagnosis.CHILD_ENDED)
