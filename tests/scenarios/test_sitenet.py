"""A site per network namespace (medperf_lite.containers.sitenet): two sites listen on the same loopback
port side by side, reach each other at their addresses only, and nothing of a run's network
is left after its end, a failure or a kill of its owner. Nothing here dials any address but
the sites' own, from inside a site."""

import signal
import subprocess
import sys
import textwrap
import time
import uuid

import pytest

from medperf_lite import net
from medperf_lite.containers import sitenet
from medperf_lite.simulator.engine import simulate
from tests.helpers import BIN

pytestmark = pytest.mark.skipif(sitenet.available() is not None, reason=str(sitenet.available()))


def namespaces(run: str = "") -> list[str]:
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split()
    return [n for n in listed if n.startswith(f"medperf-lite-{run}")]


def links(run: str) -> list[str]:
    listed = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
    return [line for line in listed.splitlines() if run in line]


def listener(site: sitenet.SiteNet, user: str, port: int) -> subprocess.Popen:
    script = (f"import socket,time; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); "
              f"s.bind(('0.0.0.0', {port})); s.listen(); print('up', flush=True); time.sleep(120)")
    proc = subprocess.Popen([*site.enter(user), sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                            start_new_session=True)
    assert proc.stdout.readline().strip() == "up"
    return proc


def test_two_sites_listen_on_one_port_side_by_side_and_reach_each_other_only_by_their_addresses():
    site = sitenet.SiteNet.create(uuid.uuid4().hex)
    procs = []
    try:
        a, b = site.address("a@example.com"), site.address("b@example.com")
        assert a != b and a.startswith("10.213.") and len(namespaces(site.run)) == 2
        procs = [listener(site, user, 9094) for user in ("a@example.com", "b@example.com")]  # no collision
        inside_a = site.namespaces["a@example.com"]
        assert sitenet.in_namespace(inside_a, lambda: net.reachable(b, 9094, 2))
        assert sitenet.in_namespace(inside_a, lambda: net.reachable("127.0.0.1", 9094, 2))  # its own
        assert not net.reachable("127.0.0.1", 9094, 0.5)  # the host's loopback has neither
        assert site.reachable(9094) and not site.reachable(9095)
        assert sitenet.site_addresses() >= {a, b}
        hostname = subprocess.run([*site.enter("a@example.com"), "hostname", "-I"], capture_output=True, text=True)
        assert hostname.stdout.split() == [a]  # `hostname -I` on that site's machine
    finally:
        killed = site.remove()
    assert all(p.wait(10) is not None for p in procs) and len(killed) == 2
    assert not namespaces(site.run) and not links(site.run) and not site.state_file.exists()
    assert a not in sitenet.site_addresses()


def test_a_killed_owners_network_is_removed_by_its_reaper_with_what_ran_inside():
    run = uuid.uuid4().hex
    owner = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import subprocess, time
        from medperf_lite.containers import sitenet
        site = sitenet.SiteNet.create({run!r})
        sitenet.start_reaper(site)
        for user in ("a", "b"):
            subprocess.Popen([*site.enter(user), "sleep", "600"], start_new_session=True)
        print("ready", flush=True)
        time.sleep(600)
    """)], stdout=subprocess.PIPE, text=True)
    assert owner.stdout.readline().strip() == "ready"
    assert len(namespaces(run[:8])) == 2
    inside = [int(p) for n in namespaces(run[:8])
              for p in subprocess.run(["ip", "netns", "pids", n], capture_output=True, text=True).stdout.split()]
    assert len(inside) == 2
    owner.kill()
    owner.wait()
    deadline = time.monotonic() + 15
    while (namespaces(run[:8]) or links(run[:8])) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not namespaces(run[:8]) and not links(run[:8])
    assert not [pid for pid in inside if _running(pid)]


def _running(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE  # killed, not yet reaped by its new parent
    except psutil.NoSuchProcess:
        return False


def test_a_network_whose_owner_is_gone_is_swept_by_the_next_run():
    gone = subprocess.Popen(["true"])
    gone.wait()
    site = sitenet.SiteNet.create(uuid.uuid4().hex)
    site.address("a")
    site.owner = gone.pid  # as if its owner had been killed, reaper and all
    site.save()
    assert site.run in sitenet.sweep() and not namespaces(site.run) and not links(site.run)


def test_a_scenario_gives_each_user_a_site_and_its_host_is_theirs(tmp_path):
    path = tmp_path / "sites.yaml"
    path.write_text(textwrap.dedent("""
        name: sites
        tutorial_init: false
        steps:
          - run: test "$(hostname -I | cut -d ' ' -f 1)" = "{{HOST}}" && echo "site {{HOST}}"
            user: a@example.com
            expect: {output: "site 10\\\\.213\\\\."}
          - start: python3 -c "import socket,time; s=socket.socket(); s.bind(('127.0.0.1', 9094)); s.listen(); time.sleep(60)"
            role: one
            user: a@example.com
          - start: python3 -c "import socket,time; s=socket.socket(); s.bind(('127.0.0.1', 9094)); s.listen(); time.sleep(60)"
            role: two
            user: b@example.com
          - run: sleep 1; python3 -c "import socket; socket.create_connection(('{{HOST}}', 1), 1)" || echo refused
            user: a@example.com
            expect: {output: refused}
    """))
    ok, _, report = simulate(str(path), workdir=tmp_path / "run", echo=False, overrides=_sites())
    assert ok, [s for s in report["steps"] if not s["ok"]]
    network = report["network"]
    assert network["mode"] == "sites" and sorted(network["sites"]) == ["(default user)", "a@example.com",
                                                                       "b@example.com"][1:]
    assert not [n for n in namespaces() if n.startswith(network["names"])] and not report["orphans"]


def _sites():
    from medperf_lite.simulator.scenario import Overrides

    return Overrides(network="sites")


def test_a_killed_simulation_leaves_no_namespace_and_no_process(tmp_path):
    marker = f"sleep {2300 + uuid.uuid4().int % 1000}"
    path = tmp_path / "killed.yaml"
    path.write_text(textwrap.dedent(f"""
        name: killed
        tutorial_init: false
        steps:
          - start: {marker}
            role: one
            user: a@example.com
          - start: {marker}
            role: two
            user: b@example.com
          - run: sleep 120
    """))
    before = set(namespaces())
    proc = subprocess.Popen([str(BIN / "medperf-lite"), "simulate", str(path), "--workdir", str(tmp_path / "run"),
                             "--network", "sites"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while len(_with(marker)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(_with(marker)) == 2 and len(set(namespaces()) - before) == 3  # a, b and the default user
    finally:
        proc.send_signal(signal.SIGKILL)  # no cleanup of its own: the reaper's
        proc.wait()
    deadline = time.monotonic() + 15
    while (_with(marker) or set(namespaces()) - before) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _with(marker) and not set(namespaces()) - before


def _with(marker: str) -> list[int]:
    import psutil

    found = []
    for process in psutil.process_iter():
        try:
            if " ".join(process.cmdline()) == marker:
                found.append(process.pid)
        except psutil.Error:
            pass
    return found


def test_network_mode_is_checked(tmp_path):
    done = subprocess.run([str(BIN / "medperf-lite"), "simulate", "tutorial", "--network", "bridge",
                           "--workdir", str(tmp_path / "run")], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and done.stderr.startswith("Error: unknown network mode 'bridge'"), done.stderr
