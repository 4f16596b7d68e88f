"""What `ls` and `view` know of each entity, light enough for the CLI to read at start."""

# per entity: (table, what, columns shown by ls)
ENTITIES = {
    "container": ("containers", "container", ("name", "image")),
    "training": ("experiments", "training experiment", ("name", "approval_status", "state")),
    "aggregator": ("aggregators", "aggregator", ("name", "address", "fl_port", "admin_port")),
    "dataset": ("datasets", "dataset", ("name", "location", "state", "prepared")),
    "ca": ("cas", "CA", ("name",)),
    "event": ("events", "event", ("name", "experiment", "status", "job_id")),
}


def event_progress(event: dict) -> dict:
    """An event's latest account of its rounds: the final report once it is closed, else what
    the aggregator last published (empty before either)."""
    return event.get("report") or event.get("progress") or {}
