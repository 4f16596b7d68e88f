"""The live view: a page on 127.0.0.1 that shows a federation as it runs, the roles (running,
waiting, stopped), the steps with their timings, the rounds, an accuracy chart that grows as
rounds finish, and each role's log tail. The page asks ``/state.json`` every second.

Two sources: a scenario being played (``simulate --web``), and a home where people run the
commands by hand (``medperf-lite watch``), whose long-running commands come from the
home's command journal and whose logs are the users' task logs.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path

from medperf_lite.errors import MedperfError
from medperf_lite.home import Home
from medperf_lite.journal import Journal
from medperf_lite.simulator import coach, picture, report

TAIL_BYTES = 6000
TAIL_LINES = 12
MILESTONE_BYTES = 1 << 16
LONG_RUNNING = ("aggregator start", "dataset train")


def tail(path: Path, inside: Path, lines: int = TAIL_LINES, nbytes: int = TAIL_BYTES) -> list[str]:
    """The last lines of a log, read from its end only; nothing unless it is a regular file
    under ``inside`` reached without a link (containers write these folders and may plant
    links to files that are not theirs)."""
    relative = os.path.relpath(os.path.abspath(path.parent), os.path.abspath(inside))
    if relative.startswith(os.pardir) or os.path.realpath(path.parent) != \
            os.path.normpath(os.path.join(os.path.realpath(inside), relative)):
        return []  # outside, or a folder on the way is a link
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return []
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return []
        f.seek(0, 2)
        f.seek(max(0, f.tell() - nbytes))
        text = f.read().decode(errors="replace")
    return [line[:300] for line in text.splitlines() if line.strip()][-lines:]


def rounds(events: list[dict]) -> dict:
    """The latest event's rounds, numbered from 1 like the aggregator and the status do."""
    if not events:
        return {"event": None, "done": 0, "total": None, "status": None}
    event = events[-1]
    return {"event": event["name"], "done": event["rounds_done"] or 0, "total": event["num_rounds"],
            "status": event["status"]}


def home_state(home: Path) -> dict:
    """What a home shows of a federation run by hand: its events, the long-running commands
    from the journal, and the task logs under the users' folders."""
    roles = []
    entries = Journal(home).entries()
    for entry in entries:
        if entry.command in LONG_RUNNING:
            status = "running" if entry.running else ("stopped" if entry.exit is None else f"stopped (exit {entry.exit})")
            roles.append({"name": f"{entry.command} ({entry.user or entry.profile or 'default profile'})",
                          "status": status, "pid": entry.pid, "log": [], "user": entry.user, "command": entry.command})
    logs = sorted((home / "users").glob("*/training/exp*/*/logs/*.log")) if (home / "users").is_dir() else []
    for log in logs[-8:]:
        roles.append({"name": str(log.relative_to(home / "users")), "status": "log", "pid": None,
                      "log": tail(log, home / "users")})
    state = Home(home).store.state() if (home / "server" / "db.json").exists() else {}
    events = report.events(home, state)
    last = entries[-1] if entries else None
    banner = None
    if last is not None:
        banner = {"step": f"last command: medperf {last.command}" + (" (running)" if last.running else
                                                                    f" (exit {last.exit})" if last.exit is not None else ""),
                  "who": last.user or last.profile or "default profile",
                  "explain": coach.EXPLAIN.get(last.command, ""), "command": ""}
    step = {"command": last.command if last and last.running else None}
    return {"title": f"federation in {home}", "elapsed": None, "roles": roles, "steps": [], "events": events,
            "rounds": rounds(events), "finished": False, "banner": banner,
            "federation": picture.federation(state, roles, step), "records": picture.records(state), "changes": None}


FILES = {  # what the page is: served from the package, never from a run's folders
    "/": ("text/html; charset=utf-8", "live.html"), "/index.html": ("text/html; charset=utf-8", "live.html"),
    "/live.js": ("text/javascript; charset=utf-8", "live.js"), "/live.css": ("text/css; charset=utf-8", "live.css"),
}
# no inline script or style, nothing from elsewhere: a value that slipped into markup cannot run
POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
          "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


NEXT_HEADER = "X-Medperf-Lite"


class LiveView:
    """Serves the page and ``state.json`` (from ``source``) on 127.0.0.1, in a thread."""

    def __init__(self, source: Callable[[], dict], port: int = 0, on_next: Callable[[], None] | None = None):
        view = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                path = self.path.split("?")[0]
                if path in FILES:
                    kind, name = FILES[path]
                    self._send(200, kind, resources.files(__package__).joinpath(name).read_bytes())
                elif path == "/state.json":
                    try:
                        body = json.dumps(view.snapshot(), default=str).encode()
                    except (MedperfError, OSError, ValueError, KeyError, TypeError) as e:  # a half-written store
                        self._send(503, "application/json", json.dumps({"error": str(e)}).encode())
                        return
                    self._send(200, "application/json", body)
                else:
                    self._send(404, "text/plain", b"not found")

            def do_POST(self):  # noqa: N802 (http.server's name)
                # the guide's Next: only from the page itself (its own header: another site's page
                # cannot send it without a CORS preflight, which is never answered)
                if self.path != "/next" or on_next is None:
                    self._send(404, "text/plain", b"not found")
                elif self.headers.get(NEXT_HEADER) != "next":
                    self._send(403, "text/plain", b"the guide's Next comes from the live page")
                else:
                    on_next()
                    self._send(200, "application/json", b'{"next": true}')

            def _send(self, code: int, kind: str, body: bytes) -> None:
                self.send_response(code)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.send_header("Content-Security-Policy", POLICY)
                self.send_header("X-Content-Type-Options", "nosniff")
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(body)

            def log_message(self, *args):  # quiet: the terminal belongs to the scenario
                pass

        self.source = source
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)

    def snapshot(self) -> dict:
        with self._lock:  # one store read at a time
            return self.source()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/"

    def __enter__(self) -> LiveView:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def watch(home: Path, port: int = 0, seconds: float | None = None, echo: Callable[[str], None] = print) -> None:
    """``medperf-lite watch``: serves a home's live view until Ctrl-C (or ``seconds``)."""
    with LiveView(lambda: home_state(home), port) as view:
        echo(f"live view of {home}: {view.url} (Ctrl-C to stop)")
        deadline = None if seconds is None else time.monotonic() + seconds
        with contextlib.suppress(KeyboardInterrupt):
            while deadline is None or time.monotonic() < deadline:
                time.sleep(0.5)


LIVE_LINGER = 1.5  # seconds the page stays up after the run, for its last look


def serve_run(run, workdir: Path, port: int) -> None:
    """Plays ``run`` (the simulator's Run) with its live page served on ``port``; from a terminal
    the final picture stays until Ctrl-C."""
    run.live = True
    with LiveView(run.live_state, port, on_next=run.next_step.set) as view:
        print(f"live view: {view.url}", flush=True)
        (workdir / "live.url").write_text(view.url)
        run.execute()
        time.sleep(LIVE_LINGER)  # the page's next look shows the end
        if sys.stdin.isatty():  # a class looks at the final picture until the teacher stops it
            print(f"{'PASSED' if run.ok else 'FAILED'}; the live view stays at {view.url} (Ctrl-C to stop)", flush=True)
            with contextlib.suppress(KeyboardInterrupt):
                while True:
                    time.sleep(0.5)
