"""The house's rooms and their order, read from the source (tests/import_graph.py): no import
cycle, no arrow upward, no module over 400 lines but the rules, and settings read from the
environment only by settings.py and the CLI's and plugin's entries."""

from __future__ import annotations

import re

from tests import import_graph

# each room imports only from rooms below it (and from itself)
LAYERS = (
    ("medperf_lite.errors", "medperf_lite.lazy", "medperf_lite.records", "medperf_lite.rules", "medperf_lite.files",
     "medperf_lite.net", "medperf_lite.processes", "medperf_lite.archives", "medperf_lite.certificates",
     "medperf_lite.diagnosis", "medperf_lite.inputs"),
    ("medperf_lite.settings", "medperf_lite.store", "medperf_lite.world", "medperf_lite.entities", "medperf_lite.journal"),
    ("medperf_lite.containers",),
    ("medperf_lite.home",),
    ("medperf_lite.commands",),
    ("medperf_lite.simulator",),
    ("medperf_lite.cli", "medperf_lite.pytest_plugin", "medperf_lite.__main__"),
)
RANK = {room: rank for rank, rooms in enumerate(LAYERS) for room in rooms}
ENTRIES = ("medperf_lite/settings.py", "medperf_lite/cli/", "medperf_lite/pytest_plugin.py")


def room(module: str) -> str:
    for candidate in sorted(RANK, key=len, reverse=True):
        if module == candidate or module.startswith(candidate + "."):
            return candidate
    raise AssertionError(f"{module} is in no room of LAYERS: give it one")


def test_no_import_cycle():
    assert import_graph.cycles(import_graph.graph()) == []


def test_no_arrow_runs_upward():
    upward = [f"{a} -> {b}" for a, targets in import_graph.graph().items() for b in targets
              if RANK[room(b)] > RANK[room(a)]]
    assert upward == []


def test_no_module_over_400_lines_but_the_rules():
    long = {name: len(path.read_text().splitlines()) for name, path in import_graph.modules().items()}
    assert {name: n for name, n in long.items() if n > 400 and name != "medperf_lite.rules"} == {}


def test_settings_come_from_the_entries():
    readers = []
    for path in import_graph.modules().values():
        relative = str(path.relative_to(import_graph.ROOT))
        if not relative.startswith(ENTRIES) and re.search(r"os\.environ|settings\.current\(\)", path.read_text()):
            readers.append(relative)
    assert readers == []


def test_the_graph_sees_a_cycle_and_an_upward_arrow():
    """The checks above can fail: a made-up graph with both is caught."""
    edges = {"medperf_lite.home": {"medperf_lite.commands.x"}, "medperf_lite.commands.x": {"medperf_lite.home"}}
    assert import_graph.cycles(edges) == [["medperf_lite.commands.x", "medperf_lite.home"]]
    assert RANK[room("medperf_lite.commands.x")] > RANK[room("medperf_lite.home")]
