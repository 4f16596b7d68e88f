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


def event_progress(event: dict) -> dict:
    """An event's latest account of its rounds: the final report once it is closed, else what
    the aggregator last published (empty before either)."""
    return event.get("report") or event.get("progress") or {}
