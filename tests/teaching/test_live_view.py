"""The live view in a real headless browser (Debian's Chromium through chromedriver): the page
is loaded while the tutorial plays, and the round count and the accuracy chart must advance
on the open page, by its own polling. Screenshots of each phase are kept in artifacts/ (start,
mid-training, end, and a failed site)."""

from __future__ import annotations

import json
import time
import urllib.request

import pytest

from tests.teaching.conftest import ARTIFACTS, need

CHROMIUM_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--window-size=1200,1000")


@pytest.fixture
def browser(tmp_path):
    chromium = need("chromium", "the live view's browser test")
    driver_path = need("chromedriver", "the live view's browser test")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def page_state(driver) -> dict:
    return driver.execute_script("""
        const r = document.getElementById('rounds'), c = document.getElementById('chart');
        const nodes = [...document.querySelectorAll('#federation .node')].map(g => g.dataset.id + '=' + g.dataset.state);
        return {done: Number(r.dataset.done), text: r.textContent, points: Number(c.dataset.points),
                roles: document.getElementById('roles').innerText, steps: document.getElementById('steps').innerText,
                nodes: nodes, active: document.querySelectorAll('#federation .link.active').length,
                banner: document.getElementById('banner-step').textContent,
                records: document.getElementById('records').innerText};
    """)


def test_live_view_advances_in_a_browser(simulation, browser):
    run = simulation("tutorial", "--web", "--round-pause", "2")
    url = run.wait_for(run.workdir / "live.url").read_text().strip()
    assert url.startswith("http://127.0.0.1:")
    browser.get(url)
    seen, shot, roles_running, pictures, phases = [], None, False, set(), {}
    deadline = time.monotonic() + 400
    while run.proc.poll() is None and time.monotonic() < deadline:
        state = page_state(browser)
        if not seen or (state["done"], state["points"]) != seen[-1]:
            seen.append((state["done"], state["points"]))
        roles_running = roles_running or "running" in state["roles"]
        pictures.add((tuple(sorted(state["nodes"])), state["active"] > 0, state["banner"].startswith("step ")))
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        if "start" not in phases and state["banner"].startswith("step "):  # the first steps: records, no training
            phases["start"] = ARTIFACTS / "live-start.png"
            browser.save_screenshot(str(phases["start"]))
        if shot is None and state["done"] >= 2:  # mid-training: some rounds and points, not all
            shot = phases["mid-training"] = ARTIFACTS / "live-view.png"
            browser.save_screenshot(str(shot))
        if "end" not in phases and state["done"] == 3 and any(n == "aggregator=done" for n in state["nodes"]):
            phases["end"] = ARTIFACTS / "live-end.png"  # every round done, the aggregator done
            browser.save_screenshot(str(phases["end"]))
        time.sleep(0.3)
    assert run.proc.wait(60) == 0, run.text()[-3000:]
    aggregator_log = (run.workdir / "logs" / "role-aggregator.log").read_text()
    assert "pausing 2 s before round 2/3" in aggregator_log and "pausing 2 s before round 3/3" in aggregator_log
    for milestone in ("aggregator: ready on 127.0.0.1:", "aggregator: site col1 connected (1 of 2)",
                      "aggregator: site col2 connected (2 of 2)", "aggregator: round 2 of 3 done",
                      "aggregator: training finished (3 of 3 rounds)"):
        assert milestone in aggregator_log, milestone
    rounds = [done for done, _ in seen]
    points = [p for _, p in seen]
    assert rounds == sorted(rounds) and len(set(rounds)) >= 3, f"rounds seen on the page: {seen}"
    assert max(rounds) == 3 and points[-1] > points[0] >= 0, f"chart points seen on the page: {seen}"
    assert roles_running, "the page never showed a running role"
    # the federation as a picture: the server, the admin, the aggregator and both sites, training with lit links
    full = [nodes for nodes, _, _ in pictures if len(nodes) == 5]
    assert full, f"the page never drew the whole federation: {pictures}"
    assert any("site:testdo@example.com=training" in nodes and active for nodes, active, _ in pictures), pictures
    assert any("aggregator=done" in nodes for nodes in full) and any(banner for _, _, banner in pictures)
    assert set(phases) == {"start", "mid-training", "end"}, phases
    assert all(path.stat().st_size > 10_000 for path in phases.values())
    print(f"screenshots: {', '.join(map(str, phases.values()))}")


def test_live_view_shows_a_failed_site_red(simulation, browser, tmp_path):
    """A site's training code raises at round 1 (faults.train_error): the page draws that
    site failed, with the diagnosis in its node, and the run ends failed; a screenshot of it."""
    from medperf_lite.simulator import faults

    source = faults.inject("train_error", tmp_path / "source")
    run = simulation("tutorial", "--web", "--containers", str(source))
    browser.get(run.wait_for(run.workdir / "live.url").read_text().strip())
    deadline, failed = time.monotonic() + 300, None
    while run.proc.poll() is None and time.monotonic() < deadline and failed is None:
        state = page_state(browser)
        failed = next((n for n in state["nodes"] if n.startswith("site:") and n.endswith("=failed")), None)
        time.sleep(0.3)
    assert failed, f"no site was drawn failed; simulate said: {run.text()[-2000:]}"
    node = browser.find_element("css selector", f'#federation .node[data-id="{failed.split("=")[0]}"]')
    assert "NameError" in node.text, node.text
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "live-failure.png"))
    assert run.proc.wait(120) != 0


@pytest.mark.slow
def test_live_view_follows_mains_flower_flow(simulation, browser):
    """MedPerf main's flow (Flower) on the same page: nothing of it is NVFlare's, the page reads
    the records and the progress our Flower node declares. Rounds and the chart advance, the
    whole federation is drawn, a site is seen training and the aggregator ends done."""
    run = simulation("flower_tutorial", "--web")
    browser.get(run.wait_for(run.workdir / "live.url").read_text().strip())
    seen, pictures = [], set()
    deadline = time.monotonic() + 500
    while run.proc.poll() is None and time.monotonic() < deadline:
        state = page_state(browser)
        if not seen or (state["done"], state["points"]) != seen[-1]:
            seen.append((state["done"], state["points"]))
        pictures.add((tuple(sorted(state["nodes"])), state["active"] > 0))
        time.sleep(0.3)
    assert run.proc.wait(60) == 0, run.text()[-3000:]
    rounds, points = [done for done, _ in seen], [p for _, p in seen]
    assert rounds == sorted(rounds) and max(rounds) == 3 and points[-1] > points[0] >= 0, seen
    full = [nodes for nodes, _ in pictures if len(nodes) == 5]
    assert full, f"the page never drew the whole federation: {pictures}"
    assert any(any(n.startswith("site:") and n.endswith("=training") for n in nodes) and active
               for nodes, active in pictures), pictures
    assert any("aggregator=done" in nodes for nodes in full), pictures


def test_watch_serves_a_home_run_by_hand(tmp_path):
    """`medperf-lite watch` on a home: its long-running commands come from the journal."""
    import subprocess

    from medperf_lite.journal import Journal
    from tests.helpers import BIN, cli_env

    home = tmp_path / "home"
    home.mkdir()
    journal = Journal(home)
    key = journal.begin(["dataset", "train", "--data_uid", "1", "--training_exp_id", "1"], None)
    done = journal.begin(["aggregator", "start", "--training_exp_id", "1"], None)
    journal.end(done, 0, "testmo@example.com")
    env = cli_env(home)
    watcher = subprocess.Popen([str(BIN / "medperf-lite"), "watch", "--seconds", "20"], env=env,
                               stdout=subprocess.PIPE, text=True)
    try:
        line = watcher.stdout.readline()
        url = line.split(": ", 1)[1].split(" ")[0]
        assert url.startswith("http://127.0.0.1:")
        state = json.load(urllib.request.urlopen(url + "state.json", timeout=10))
        roles = {r["name"]: r["status"] for r in state["roles"]}
        assert roles == {"dataset train (default profile)": "running",
                         "aggregator start (testmo@example.com)": "stopped (exit 0)"}, roles
        assert key and state["events"] == [] and state["rounds"]["event"] is None
        page = urllib.request.urlopen(url, timeout=10).read().decode()
        script = urllib.request.urlopen(url + "live.js", timeout=10).read().decode()
        assert 'id="chart"' in page and "state.json" in script
    finally:
        watcher.terminate()
        watcher.wait(10)


def test_hostile_values_neither_run_nor_draw(browser):
    """Whatever a container published, untyped (the page's own guard, below the server's
    typing): markup in names and numbers stays text or is left out, and no script runs."""
    from medperf_lite.simulator import live

    evil = "<img src=x onerror=\"window.pwned='img'\">"
    event = {"name": evil, "num_rounds": "3\"/><script>window.pwned='n'</script>", "history": [
        {"round": 1, "global_val_acc": 0.5, "sites": {evil: {"val_acc": 0.4}}},
        {"round": "2\" onload=\"window.pwned='r'", "global_val_acc": 0.6, "sites": {}},
        {"round": 3, "global_val_acc": "0.7\"/><script>window.pwned='a'</script>", "sites": {}}]}
    state = {"title": evil, "elapsed": "1<script>window.pwned='e'</script>", "finished": False,
             "roles": [{"name": evil, "status": evil, "pid": evil, "log": [evil]}],
             "steps": [{"index": evil, "name": evil, "status": "ok", "seconds": evil}],
             "events": [event], "rounds": {"event": evil, "done": evil, "total": evil, "status": evil},
             "banner": {"step": evil, "who": evil, "explain": evil, "command": evil},
             "federation": {"nodes": [{"id": "server", "kind": "server", "label": evil, "email": evil, "site": evil,
                                       "state": evil, "milestone": evil},
                                      {"id": evil, "kind": "site", "label": evil, "email": evil, "site": evil,
                                       "state": "failed", "milestone": evil}],
                            "links": [{"from": "server", "to": evil, "kind": evil, "active": evil}]},
             "records": [{"table": evil, "count": evil, "rows": [evil]}], "changes": {"step": evil, "lines": [evil]}}
    with live.LiveView(lambda: state) as view:
        browser.get(view.url)
        time.sleep(2.5)  # two of the page's refreshes
        found = browser.execute_script("""
            return {pwned: window.pwned === undefined ? null : String(window.pwned),
                    injected: document.querySelectorAll('body img, svg script, td script, pre img, li img, b img').length,
                    nodes: document.querySelectorAll('#federation .node').length,
                    points: Number(document.getElementById('chart').dataset.points),
                    title: document.getElementById('title').textContent};""")
    assert found == {"pwned": None, "injected": 0, "nodes": 2, "points": 2, "title": evil}, found


def test_watch_started_before_the_home_waits_for_it(tmp_path):
    import subprocess

    from tests.helpers import BIN, cli_env

    home = tmp_path / "later"
    watcher = subprocess.Popen([str(BIN / "medperf-lite"), "watch", "--seconds", "20"], env=cli_env(home),
                               stdout=subprocess.PIPE, text=True)
    try:
        assert watcher.stdout.readline().startswith(f"waiting for a medperf-lite home at {home}")
        home.mkdir()
        line = watcher.stdout.readline()
        url = line.split(": ", 1)[1].split(" ")[0]
        assert json.load(urllib.request.urlopen(url + "state.json", timeout=10))["events"] == []
    finally:
        watcher.terminate()
        watcher.wait(10)
