"""The store under concurrent writers and writers killed at random moments."""

import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest

from medperf_lite import rules, world
from medperf_lite.errors import MedperfError, Refused
from medperf_lite.store import Store

WRITER = """
import sys
from pathlib import Path
from medperf_lite import rules, world
from medperf_lite.store import Store
store = Store(Path(sys.argv[1]), world.seed)
tag, count = sys.argv[2], int(sys.argv[3])
for i in range(count):
    cid = store.run(rules.submit_container, "testmo@example.com", f"{tag}-{i}", {"image": "x", "tasks": {}}, None).value
    print(cid, flush=True)
"""


def writer(root, tag, count):
    return subprocess.Popen([sys.executable, "-c", WRITER, str(root), tag, str(count)], stdout=subprocess.PIPE,
                            text=True)


def test_four_processes_submit_400_entities_with_unique_ids(tmp_path):
    procs = [writer(tmp_path, f"w{i}", 100) for i in range(4)]
    outputs = [p.communicate(timeout=300)[0].split() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    ids = [int(x) for out in outputs for x in out]
    assert len(ids) == 400 and len(set(ids)) == 400
    state = Store(tmp_path, world.seed).state()
    submitted = [c for c in state["containers"].values() if c["name"].startswith("w")]
    assert len(submitted) == 400
    assert sorted(state["containers"]) == list(range(1, 402))


@pytest.mark.slow  # 200 kills, about a minute
def test_writer_killed_at_random_moments_loses_nothing_committed(tmp_path):
    rng = random.Random(7)
    committed: list[int] = []
    for round_ in range(200):
        proc = writer(tmp_path, f"k{round_}", 1000)
        time.sleep(rng.uniform(0.2, 0.4))
        os.kill(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        committed += [int(x) for x in out.split()]
        if not (tmp_path / "db.json").exists():  # killed before its first write (a slow start on a busy machine)
            assert not committed
            continue
        state = json.loads((tmp_path / "db.json").read_text())  # always readable
        stored = {int(k) for k in state["containers"]}
        assert set(committed) <= stored, "a committed record was lost"
    assert len(committed) > 100  # the writers really wrote between the kills
    Store(tmp_path, world.seed).run(rules.add_user, None, "after@example.com")
    assert not list(tmp_path.glob(".db.json.*")), "a killed writer's temp file outlived the next transaction"


def test_orphaned_temp_files_go_with_the_next_transaction(tmp_path):
    store = Store(tmp_path, world.seed)
    store.run(rules.add_user, None, "x@example.com")
    (tmp_path / ".db.json.abc123").write_text("half a write")
    store.run(rules.check_login, None, "x@example.com")  # even one that changes nothing
    assert not (tmp_path / ".db.json.abc123").exists()


def test_refused_call_leaves_the_file_byte_for_byte(tmp_path):
    store = Store(tmp_path, world.seed)
    store.run(rules.add_user, None, "x@example.com")
    before = (tmp_path / "db.json").read_bytes()
    with pytest.raises(Refused):
        store.run(rules.set_plan, "testdo@example.com", 1, {})
    assert (tmp_path / "db.json").read_bytes() == before


def test_tampered_blob_is_refused(tmp_path):
    store = Store(tmp_path, world.seed)
    digest = store.put_blob(b"kit")
    (tmp_path / "blobs" / digest).write_bytes(b"kit!")
    with pytest.raises(MedperfError, match="tampered"):
        store.get_blob(digest)


def test_version_changes_with_every_write_and_only_then(tmp_path):
    """A watcher reads the records again only when the version moved: every write moves it, a
    refused call and a read do not."""
    store = Store(tmp_path, world.seed)
    assert store.version() is None
    store.run(rules.submit_container, "testmo@example.com", "a", {"image": "x", "tasks": {}}, None)
    seen = store.version()
    store.state()
    with pytest.raises(Refused):
        store.run(rules.submit_container, "nobody@example.com", "b", {"image": "x", "tasks": {}}, None)
    assert store.version() == seen
    for name in ("b", "c"):  # the same size and, maybe, the same timestamp tick: still a new file
        store.run(rules.submit_container, "testmo@example.com", name, {"image": "x", "tasks": {}}, None)
        assert store.version() != seen
        seen = store.version()
