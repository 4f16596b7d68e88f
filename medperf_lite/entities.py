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
