"""The server's records, one definition each: what a row of each table holds. The rules build
them (``rules.py``), everything else reads them (listings, milestones, report, live view), and
the rules' state machine checks every row it sees against its definition
(``tests/property/test_rules_machine.py``). Plain dicts at run time: TinyDB stores JSON.

The event's ``progress`` is what a node container publishes (``contract.PROGRESS_FORMAT``),
normalized by ``contract.progress_rounds`` before anything reads it.
"""


from typing import Any, NotRequired, TypedDict


class User(TypedDict):
    email: str
    is_admin: bool


class Container(TypedDict):
    name: str
    owner: int
    config: dict  # container_config.yaml, validated (containers.config)
    parameters: dict | None
    source: str | None  # the folder a local config's sources are in
    additional: str | None  # the blob of MedPerf's -a tarball


class CA(TypedDict):
    name: str
    owner: int
    config: dict  # MedPerf's ca_config.json
    fingerprint: str
    ca_container: int
    client_container: int
    server_container: int
    address: str | None
    port: int | None


class Experiment(TypedDict):
    name: str
    description: str
    owner: int
    prep: int
    fl: int
    fl_admin: int | None
    approval_status: str
    state: str
    plan: dict | None
    flow: str  # rules.FLOWS
    aggregator: NotRequired[int | None]  # MedPerf main's flow: set_aggregator


class Aggregator(TypedDict):
    name: str
    owner: int
    container: int
    address: str
    fl_port: int
    admin_port: int


class Dataset(TypedDict):
    name: str
    description: str
    location: str
    owner: int
    prep: int
    data_hash: str
    state: str
    prepared: bool
    prepare_error: str | None
    statistics: dict | None


class Association(TypedDict):
    kind: str  # "dataset", "aggregator" or "ca"
    entity: int
    experiment: int
    owner: int
    status: str


class Round(TypedDict):
    round: int
    global_val_acc: float | None
    sites: dict[str, dict[str, float | None]]


class Progress(TypedDict, total=False):
    num_rounds: int | None
    rounds_done: int | None
    history: list[Round]
    finished: bool
    sites_connected: list[str]
    job: dict[str, str]
    failure: dict[str, Any]


class Failure(TypedDict):  # rules.FAILURE_FIELDS, each a bounded string or None
    role: str | None
    site: str | None
    ended: str | None
    exit_code: str | None
    error: str | None
    where: str | None
    log: str | None
    text: str | None
    reported_by: str


class Event(TypedDict):
    name: str
    experiment: int
    aggregator: int
    participants: dict[str, str]  # label: e-mail
    status: str
    job_id: str | None
    progress: Progress | None
    report: dict | None
    failures: list[Failure]


class Kit(TypedDict):
    experiment: int
    role: str  # "server" or "client"
    email: str | None
    blob: str
    site: str | None


class Certificate(TypedDict):
    owner: int
    name: str
    ca: int
    key_type: str  # rules.KEY_TYPES
    content: str
    is_valid: bool


RECORDS: dict[str, type] = {
    "users": User, "containers": Container, "cas": CA, "experiments": Experiment, "aggregators": Aggregator,
    "datasets": Dataset, "associations": Association, "events": Event, "kits": Kit, "certificates": Certificate,
}


def fields(table: str) -> tuple[frozenset[str], frozenset[str]]:
    """A table's (required, optional) field names."""
    record = RECORDS[table]
    return record.__required_keys__, record.__optional_keys__


def misfit(table: str, row: dict) -> str | None:
    """Why a row is not a record of its table (missing or unknown fields), or None."""
    required, optional = fields(table)
    missing, unknown = required - set(row), set(row) - required - optional
    if missing or unknown:
        return f"{table}: missing {sorted(missing)}, unknown {sorted(unknown)}"
    return None
