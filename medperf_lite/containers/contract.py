"""MedPerf's container contracts, as data: per command, which task of which container runs,
which mounts are offered under MedPerf's volume names, which environment is set and
whether the task gets the network. Two flows, two tables: MedPerf's ``nvflare-integration``
branch (MEDPERF-CONTRACT.md, the seed tutorial's: ``FLOWS["nvflare"]``) and MedPerf ``main``
(MEDPERF-MAIN-CONTRACT.md: Flower, certificates from a CA container: ``FLOWS["flower"]``).
A home follows one of them (its config's ``flow``).

MedPerf offers more mounts than any one task uses; a task's config selects which of them
are mounted (``input_volumes`` / ``output_volumes``). A name the task declares that is not
offered is an error. ``parameters_file`` and ``additional_files`` are always offered, and
every task gets a fresh ``/tmp``. Nothing here knows an FL framework: a new one needs no
change in the core, only containers that honour these names.
"""

from __future__ import annotations

from dataclasses import dataclass

ALWAYS_OFFERED = ("parameters_file", "additional_files")
RUN_ARGS_KEYS = ("command", "entrypoint", "environment", "shm_size", "gpus")
PARTICIPANT_LABEL = "MEDPERF_PARTICIPANT_LABEL"
ADMIN_PARTICIPANT_CN = "MEDPERF_ADMIN_PARTICIPANT_CN"
INPUT_CN = "MEDPERF_INPUT_CN"  # the common name a CA container certifies: an e-mail, or an aggregator's address
KEY_TYPE = "MEDPERF_KEY_TYPE"  # RSA or EC
UPDATE_FIELD = ("MEDPERF_UPDATE_FIELD_NAME", "MEDPERF_UPDATE_FIELD_VALUE")


@dataclass(frozen=True)
class Step:
    """One container task run by a command."""

    command: str
    container: str  # which container of the experiment: prep, fl (the node) or fl_admin
    task: str
    offered: tuple[str, ...]
    env: tuple[str, ...] = ()  # MedPerf's variables, set to the acting user's e-mail
    network: bool = False
    optional: bool = False  # skipped when the container lacks the task (MedPerf's has_task)
    given: tuple[str, ...] = ()  # MedPerf's variables whose values the command gives (a field, a key type)


NVFLARE_STEPS: tuple[Step, ...] = (
    Step("dataset prepare", "prep", "prepare",
         ("data_path", "labels_path", "output_path", "output_labels_path")),
    Step("dataset prepare", "prep", "sanity_check", ("data_path", "labels_path")),
    Step("dataset prepare", "prep", "statistics", ("data_path", "labels_path", "output_path")),
    Step("training set_plan", "fl", "generate_plan",
         ("training_config_path", "aggregator_config_path", "plan_path", "kits_path", "kits_metadata"),
         env=(PARTICIPANT_LABEL,)),
    Step("aggregator start", "fl", "start_aggregator",
         ("fl_workspace", "plan_path", "collaborators", "output_logs", "output_weights", "report_path",
          "node_cert_folder", "ca_cert_folder"), network=True),
    Step("dataset train", "fl", "train",
         ("data_path", "labels_path", "fl_workspace", "plan_path", "output_logs", "node_cert_folder",
          "ca_cert_folder"), env=(PARTICIPANT_LABEL,), network=True),
    Step("training submit_job", "fl_admin", "start_federation", ("fl_workspace", "plan_path"),
         env=(PARTICIPANT_LABEL,), network=True, optional=True),
    Step("training get_experiment_status", "fl_admin", "get_experiment_status",
         ("fl_workspace", "output_status_file", "plan_path", "temp_dir", "node_cert_folder", "ca_cert_folder"),
         env=(PARTICIPANT_LABEL, ADMIN_PARTICIPANT_CN), network=True),
    Step("training close_event", "fl_admin", "stop_federation", ("fl_workspace", "output_weights"),
         env=(PARTICIPANT_LABEL,), network=True, optional=True),
    # the field and its new value come as MEDPERF_UPDATE_FIELD_NAME / MEDPERF_UPDATE_FIELD_VALUE
    Step("training update_plan", "fl_admin", "update_plan", ("fl_workspace", "plan_path", "node_cert_folder",
         "ca_cert_folder"), env=(ADMIN_PARTICIPANT_CN,), network=True, given=UPDATE_FIELD),
)
STEPS = NVFLARE_STEPS  # the default flow's

# MedPerf main: no fl_workspace and no kits; certificates come from the CA's containers ("ca",
# "client", "server": the CA record's ca_mlcube, client_mlcube, server_mlcube), and every FL
# task is preceded by the CA's trust (the root certificate into the CA's ca_cert folder)
CA_STEPS: tuple[Step, ...] = (
    Step("certificate trust", "ca", "trust", ("ca_config", "pki_assets"), network=True),
    Step("certificate get_client_certificate", "client", "get_client_cert", ("ca_config", "pki_assets"),
         env=(INPUT_CN,), network=True, given=(KEY_TYPE,)),
    Step("certificate get_server_certificate", "server", "get_server_cert", ("ca_config", "pki_assets"),
         network=True, given=(INPUT_CN,)),
    Step("certificate submit_client_certificate", "ca", "verify_cert", ("ca_config", "pki_assets"),
         env=(INPUT_CN,), network=True),
)
MAIN_STEPS: tuple[Step, ...] = (
    *NVFLARE_STEPS[:3],  # dataset prepare: the same three tasks
    Step("training set_plan", "fl", "generate_plan", ("training_config_path", "aggregator_config_path", "plan_path")),
    Step("aggregator start", "fl", "start_aggregator",
         ("plan_path", "collaborators", "output_logs", "output_weights", "report_path", "node_cert_folder",
          "ca_cert_folder"), network=True),
    Step("dataset train", "fl", "train",
         ("data_path", "labels_path", "plan_path", "output_logs", "node_cert_folder", "ca_cert_folder"),
         env=(PARTICIPANT_LABEL,), network=True),
    Step("training get_experiment_status", "fl_admin", "get_experiment_status",
         ("output_status_file", "plan_path", "node_cert_folder", "ca_cert_folder"),
         env=(ADMIN_PARTICIPANT_CN,), network=True),
    Step("training update_plan", "fl_admin", "update_plan", ("plan_path", "node_cert_folder", "ca_cert_folder"),
         env=(ADMIN_PARTICIPANT_CN,), network=True, given=UPDATE_FIELD),
    *CA_STEPS,
)
FLOWS: dict[str, tuple[Step, ...]] = {"nvflare": NVFLARE_STEPS, "flower": MAIN_STEPS}
FLOW_NAMES = {"nvflare": "MedPerf's nvflare-integration branch (NVFlare)",
              "flower": "MedPerf main (Flower, certificates from a CA container)"}
ALL_STEPS = tuple(dict.fromkeys((*NVFLARE_STEPS, *MAIN_STEPS)))


# what MedPerf offers as a task's inputs: mounted read-only whatever a config declares; a config
# that declares one as an output is refused (the data owner's raw data, the prepared data, the
# training config, plans and participants lists are never a container's to change)
INPUTS: dict[str, tuple[str, ...]] = {
    "prepare": ("data_path", "labels_path"),
    "sanity_check": ("data_path", "labels_path"),
    "statistics": ("data_path", "labels_path"),
    "generate_plan": ("training_config_path", "aggregator_config_path"),
    "start_aggregator": ("plan_path", "collaborators", "node_cert_folder", "ca_cert_folder"),
    "train": ("data_path", "labels_path", "plan_path", "node_cert_folder", "ca_cert_folder"),
    "start_federation": ("plan_path",),
    "get_experiment_status": ("plan_path", "node_cert_folder", "ca_cert_folder"),
    "update_plan": ("plan_path", "node_cert_folder", "ca_cert_folder"),
    "trust": ("ca_config",),
    "get_client_cert": ("ca_config",),
    "get_server_cert": ("ca_config",),
    "verify_cert": ("ca_config",),
}
# variables that make the dynamic loader or Python load code from elsewhere: refused in a config
# and in a Dockerfile's ENV (PYTHONPATH only where it points into a volume or /tmp, which earlier
# tasks or other containers could have written)
LOADER_VARIABLES = ("LD_", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONUSERBASE", "PYTHONEXECUTABLE", "PYTHONBREAKPOINT")
WRITABLE_PLACES = ("/mlcommons", "/tmp", "/var/tmp", "/dev/shm")


def loader_refusal(name: str, value: object) -> str | None:
    """Why an environment variable is refused, or None."""
    upper = str(name).upper()
    if upper.startswith(LOADER_VARIABLES):
        return f"{name} is refused: it makes the loader or Python load code from elsewhere"
    if upper == "PYTHONPATH":
        for entry in str(value).split(":"):
            if entry.startswith(WRITABLE_PLACES) or not entry.startswith("/") and entry:
                return f"PYTHONPATH entry '{entry}' is refused: it points outside the image, where tasks write"
    return None


def step(command: str, task: str, flow: str = "nvflare") -> Step:
    for s in FLOWS[flow]:
        if s.command == command and s.task == task:
            return s
    raise KeyError(f"no contract step for {command} / {task} in the {flow} flow")


# The progress report a container may publish at report_path (MedPerf's channel for the
# aggregator's report), as medperf-lite reads it; every key is optional, and a container that
# publishes nothing is watched through its process and its log alone.
PROGRESS_FORMAT = {
    "num_rounds": "int: the job's rounds",
    "rounds_done": "int: rounds finished so far",
    "history": "list of {round: 1..n, sites: {site: {metric: value}}, global_val_acc: float}",
    "finished": "bool: training is over (close_event comes next)",
    "sites_connected": "list of the sites that joined the federation",
    "job": "{id: str, status: str}: the FL job and its framework's status word",
    "failure": "{status: str, logs: {site or 'server': text}}: the job ended other than well; "
               "the logs' text is where the error is read from",
}


def progress_failure(progress: object) -> tuple[str, dict[str, str]] | None:
    """(status, {name: log text}) when a published progress report says the job failed."""
    failure = progress.get("failure") if isinstance(progress, dict) else None
    if not isinstance(failure, dict):
        return None
    logs = failure.get("logs") if isinstance(failure.get("logs"), dict) else {}
    return str(failure.get("status") or "failed"), {str(k): str(v) for k, v in logs.items()}


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or abs(value) == float("inf"):
        return None
    return float(value)


def _count(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 1 << 31 else None


def typed_rounds(progress: object) -> dict:
    """A published progress report's rounds as PROGRESS_FORMAT says they are, whatever the
    container wrote: counts as ints, metrics as finite numbers, site and metric names as short
    text; anything else left out (it reaches reports, plots and the live page)."""
    progress = progress if isinstance(progress, dict) else {}
    history = []
    for entry in progress.get("history") if isinstance(progress.get("history"), list) else []:
        if not isinstance(entry, dict) or not _count(entry.get("round")):
            continue
        sites = entry.get("sites") if isinstance(entry.get("sites"), dict) else {}
        history.append({"round": entry["round"], "global_val_acc": _number(entry.get("global_val_acc")),
                        "sites": {str(site)[:80]: {str(k)[:40]: _number(v) for k, v in list(metrics.items())[:8]}
                                  for site, metrics in list(sites.items())[:64] if isinstance(metrics, dict)}})
    return {"num_rounds": _count(progress.get("num_rounds")), "rounds_done": _count(progress.get("rounds_done")),
            "history": history[:1000]}
