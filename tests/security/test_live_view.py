"""The live view serves what it means to: the run's own logs, never through a link a container
planted; every value a container published reaches the page typed or escaped; the page runs
only its own script (a Content-Security-Policy that forbids inline script)."""

from __future__ import annotations

import json
import os
import urllib.request

import pytest

from medperf_lite.home import Home
from medperf_lite.rules import Outcome
from medperf_lite.simulator import live, report

SECRET = "root:SECRET-HASH:19000:0:99999:7:::"


@pytest.fixture
def planted(tmp_path):
    """A home whose task logs folder holds a real log and links a hostile container left."""
    home = tmp_path / "home"
    outside = tmp_path / "etc-shadow"
    outside.write_text(SECRET + "\n")
    other = home / "users" / "other@example.com" / "datasets" / "1" / "local.yaml"
    other.parent.mkdir(parents=True)
    other.write_text("data_path: /their/secret-data\n")
    logs = home / "users" / "testdo@example.com" / "training" / "exp1" / "dataset1" / "logs"
    logs.mkdir(parents=True)
    (logs / "train.log").write_text("round 1/3: ok\n")
    (logs / "shadow.log").symlink_to(outside)
    (logs / "relative.log").symlink_to(os.path.relpath(other, logs))
    os.mkfifo(logs / "fifo.log")  # a reader that opened it would wait for ever
    linked = home / "users" / "testdo2@example.com" / "training" / "exp1" / "dataset2"
    linked.mkdir(parents=True)
    (linked / "logs").symlink_to(outside.parent)  # a folder on the way is a link
    (outside.parent / "x.log").write_text(SECRET + "\n")
    return home


def test_the_live_view_reads_no_log_through_a_link(planted):
    state = json.dumps(live.home_state(planted))
    assert "round 1/3: ok" in state
    assert "SECRET" not in state and "secret-data" not in state


@pytest.mark.parametrize("name", ["shadow.log", "relative.log", "fifo.log"])
def test_tail_refuses_links_and_non_files(planted, name):
    logs = planted / "users" / "testdo@example.com" / "training" / "exp1" / "dataset1" / "logs"
    assert live.tail(logs / name, planted / "users") == []
    assert live.tail(logs / "train.log", planted / "users") == ["round 1/3: ok"]
    assert live.tail(logs / "train.log", planted / "elsewhere") == []


HOSTILE = {
    "num_rounds": "3\"><script>window.pwned=1</script>", "rounds_done": True,
    "history": [
        {"round": 1, "global_val_acc": 0.5, "sites": {"col1": {"val_acc": 0.4, "train_loss": "<img src=x onerror=alert(1)>"}}},
        {"round": "2\"/><script>window.pwned=2</script>", "global_val_acc": 0.6, "sites": {}},
        {"round": 3, "global_val_acc": "0.7\"/><script>window.pwned=3</script>", "sites": {"<b>x</b>": {"val_acc": 1e400}}},
        "not a round",
    ],
}


def hostile_home(tmp_path):
    home = Home(tmp_path / "home")
    event = {"name": "e", "experiment": 1, "status": "OPEN", "participants": {}, "progress": HOSTILE, "failures": []}
    home.store.run(lambda state: Outcome(changes=[("events", 1, event)]))
    return home.root


def test_published_rounds_reach_the_page_typed(tmp_path):
    event = report.events(hostile_home(tmp_path))[0]
    assert event["num_rounds"] is None and event["rounds_done"] is None
    assert [h["round"] for h in event["history"]] == [1, 3]
    assert event["history"][0] == {"round": 1, "global_val_acc": 0.5, "sites": {"col1": {"val_acc": 0.4, "train_loss": None}}}
    assert event["history"][1]["global_val_acc"] is None and event["history"][1]["sites"] == {"<b>x</b>": {"val_acc": None}}


def test_the_page_runs_only_its_own_script():
    with live.LiveView(lambda: {"roles": [], "steps": [], "events": [], "rounds": live.rounds([])}) as view:
        page = urllib.request.urlopen(view.url, timeout=10)
        policy = page.headers["Content-Security-Policy"]
        html = page.read().decode()
        script = urllib.request.urlopen(view.url + "live.js", timeout=10)
        assert script.headers["Content-Type"].startswith("text/javascript")
        assert urllib.request.urlopen(view.url + "live.css", timeout=10).status == 200
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(view.url + "../../etc/passwd", timeout=10)
    assert "script-src 'self'" in policy and "default-src 'none'" in policy and "unsafe-inline" not in policy
    assert "<script>" not in html and "<style>" not in html and 'src="live.js"' in html
    assert page.headers["X-Content-Type-Options"] == "nosniff"
