"""What `ls` and `view` know of each entity, light enough for the CLI to read at start."""

# per entity: (table, what, the columns `ls` prints): MedPerf's `ls` fields on its branch
# nvflare-integration (cli/medperf/commands/*/: EntityList.run(fields=...)); events are ours
ENTITIES = {
    "container": ("containers", "container", ("UID", "Name", "State", "Registered")),
    "training": ("experiments", "training experiment", ("UID", "Name", "State", "Approval Status", "Registered")),
    "aggregator": ("aggregators", "aggregator", ("UID", "Name", "Address", "Port")),
    "dataset": ("datasets", "dataset", ("UID", "Name", "Data Preparation Container UID", "State", "Status", "Owner")),
    "ca": ("cas", "CA", ("UID", "Name", "Address", "Port")),
    "event": ("events", "event", ("UID", "Name", "Experiment", "Status", "Job")),
}


def failure_texts(event: dict) -> list[str]:
    """The paragraphs of the failures an event recorded (rules.record_failure), first first."""
    return [failure["text"] for failure in event.get("failures") or []]


MODEL_SUFFIXES = (".pt", ".pth", ".ckpt", ".safetensors", ".npz", ".npy", ".pkl", ".h5", ".onnx", ".bin")


def rounds_text(done: object, total: object) -> str:
    """An event's rounds in words, before, during or after training."""
    done = done if isinstance(done, int) and not isinstance(done, bool) else None
    total = total if isinstance(total, int) and not isinstance(total, bool) else None
    if done is None and total is None:
        return "no round done"
    return f"{done or 0} of {total} rounds" if total is not None else f"{done} rounds"


def hidden(path: str) -> bool:
    """A framework's hidden file among the final weights (NVFlare's ``.__nvfl_sig.json``)."""
    return str(path).rsplit("/", 1)[-1].startswith(".")


def shown(weights: list[str]) -> list[str]:
    """The final weights a person is shown: model files first, hidden files left out."""
    return [w for w in model_first(weights) if not hidden(w)]


def _rank(path: str) -> tuple[bool, bool]:
    return hidden(path), not path.rsplit("/", 1)[-1].lower().endswith(MODEL_SUFFIXES)


def model_first(weights: list[str]) -> list[str]:
    """Final weights with the model files first (a framework's hidden files, e.g. NVFlare's
    ``.__nvfl_sig.json``, last)."""
    return sorted(weights, key=_rank)


def weight_files(folder) -> list[str]:
    """The files of a final-weights folder, model files first, at most 50."""
    return model_first(sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()))[:50]


def model_file(weights: list[str]) -> str | None:
    """The model among the final weights: the first file with a model's suffix."""
    return next((w for w in model_first(weights) if _rank(w) == (False, False)), None)


def event_progress(event: dict) -> dict:
    """An event's latest account of its rounds: the final report once it is closed, else what
    the aggregator last published (empty before either)."""
    return event.get("report") or event.get("progress") or {}
