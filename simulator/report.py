"""A run's report: report.json and report.md in the workdir, a PNG plot of validation
accuracy per round (per site and global), and optionally JUnit XML."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree as ET

from medperf_lite.containers import contract
from medperf_lite.entities import event_progress, failure_texts, model_file, model_first, rounds_text
from medperf_lite.home import Home


@dataclass
class StepResult:
    """One step's outcome, as the report lists it."""

    index: int
    name: str
    kind: str
    ok: bool
    seconds: float
    detail: str = ""
    role: str | None = None
    log_tail: list[str] = field(default_factory=list)
    started: float = 0.0  # seconds since the run started
    failures: list[dict] = field(default_factory=list)  # the causes, when the run failed under this step


def events(home: Path, state: dict | None = None) -> list[dict]:
    """Every training event of a home's server, with its progress or final report (``state``:
    the server's, when the caller read it already)."""
    if state is None:
        if not (home / "server" / "db.json").exists():
            return []
        state = Home(home).store.state()
    found = []
    for eid, event in sorted((state.get("events") or {}).items()):
        rounds, report = contract.typed_rounds(event_progress(event)), event.get("report") or {}
        plan = ((state.get("experiments") or {}).get(event["experiment"]) or {}).get("plan") or {}
        rounds["num_rounds"] = rounds["num_rounds"] or plan.get("num_rounds")  # the plan's, before any report
        weights = model_first([str(w)[:200] for w in report["weights"][:100]]) \
            if isinstance(report.get("weights"), list) else []
        found.append({"id": eid, "name": event["name"], "experiment": event["experiment"], "status": event["status"],
                       "participants": event["participants"], **rounds,
                       "output_weights": str(report.get("output_weights") or "") or None,
                       "weights": weights, "model": model_file(weights),
                       "failures": failure_texts(event)})
    return found


def build(run, steps: list[dict]) -> dict:
    data = {"scenario": run.plan.name, "runner": run.runner, "run_id": run.run_id, "passed": run.ok, "workdir": str(run.workdir),
            "seconds": round(time.monotonic() - run.started, 1), "ports": [run.vars["FL_PORT"], run.vars["ADMIN_PORT"]],
            "orphans": run.orphans, "steps": steps, "events": events(run.home),
            "network": {"mode": run.network, "names": f"medperf-lite-{run.run_id[:8]}", "sites": run.site_addresses}}
    plot = _plot(data["events"], run.workdir / "accuracy.png")
    data["plot"] = str(plot) if plot else None
    (run.workdir / "report.md").write_text(_markdown(data))
    (run.workdir / "report.json").write_text(json.dumps(data, indent=2))
    return data


def _network(data: dict) -> str:
    network = data.get("network") or {"mode": "host"}  # a report from before sites
    if network["mode"] != "sites":
        return "this host's (every role on loopback)"
    return "a site per user: " + ", ".join(f"{user} {address}" for user, address in network["sites"].items())


def _markdown(data: dict) -> str:
    lines = [f"# Scenario {data['scenario']}: {'PASSED' if data['passed'] else 'FAILED'}", "",
             f"Runner: {data['runner']}; {data['seconds']} s; ports {data['ports']}; network: {_network(data)}", "",
             "| # | step | result | seconds |", "|---|---|---|---|"]
    for s in data["steps"]:
        result = "ok" if s["ok"] else "FAILED: " + s["detail"].replace("\n", "<br>").replace("|", "\\|")
        lines.append(f"| {s['index']} | {s['name']} | {result} | {s['seconds']:.1f} |")
    for s in data["steps"]:
        if s.get("failures"):
            lines += ["", f"## Why step {s['index']} ({s['name']}) failed", ""]
            lines += [f"- {f['text']}" for f in s["failures"]]
    for event in data["events"]:
        lines += ["", f"## Event {event['name']} ({event['status']}): {rounds_text(event['rounds_done'], event['num_rounds'])}",
                  "", "| round | site | train loss | val acc | global val acc |",
                  "|---|---|---|---|---|"]
        for entry in event["history"]:
            for site, m in sorted(entry.get("sites", {}).items()):
                lines.append(f"| {entry['round']} | {site} | {m.get('train_loss', '')} | {m.get('val_acc', '')} | "
                             f"{entry.get('global_val_acc', '')} |")
        if not event["history"]:
            lines += ["", "Per-round metrics are unavailable: the containers published no per-round report."]
        if event["weights"]:
            model = f"final model `{event['model']}`; " if event["model"] else "no model file among them; "
            lines += ["", f"Final weights in `{event['output_weights']}`: {model}{len(event['weights'])} files "
                          f"({', '.join(event['weights'][:5])})"]
    if data.get("plot"):
        lines += ["", "![validation accuracy](accuracy.png)"]
    if data["orphans"]:
        lines += ["", f"Processes left behind (killed): {data['orphans']}"]
    return "\n".join(lines) + "\n"


def _plot(events: list[dict], path: Path) -> Path | None:
    histories = [e for e in events if e["history"]]
    if not histories:
        return None
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for event in histories:
        rounds = [h["round"] for h in event["history"]]
        sites = sorted({s for h in event["history"] for s in h.get("sites", {})})
        for site in sites:
            ax.plot(rounds, [h["sites"].get(site, {}).get("val_acc") for h in event["history"]], marker="o",
                    label=f"{event['name']}: {site}")
        ax.plot(rounds, [h.get("global_val_acc") for h in event["history"]], marker="s", linewidth=2.5,
                label=f"{event['name']}: global model")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_xlabel("round")
    ax.set_ylabel("validation accuracy")
    ax.set_ylim(0, 1.05)
    ax.set_title("Validation accuracy per round")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def junit(data: dict, path: Path) -> None:
    suite = ET.Element("testsuite", name=f"medperf-lite.{data['scenario']}", tests=str(len(data["steps"])),
                       failures=str(sum(not s["ok"] for s in data["steps"])), time=str(data["seconds"]))
    for s in data["steps"]:
        case = ET.SubElement(suite, "testcase", classname=data["scenario"], name=f"{s['index']:02d} {s['name']}",
                             time=f"{s['seconds']:.2f}")
        if not s["ok"]:
            failure = ET.SubElement(case, "failure", message=s["detail"])
            failure.text = "\n".join([*(f["text"] for f in s.get("failures") or []), *s["log_tail"]])
    Path(path).write_text(ET.tostring(suite, encoding="unicode"))
