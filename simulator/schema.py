"""Typed definitions of a scenario file, checked at load: an unknown step kind, key or
comparator, a missing role or a value of the wrong type is an error naming the file, the
step and the key, never a silent pass. ``schema()`` is the JSON Schema editors can use.

Values may hold ``{{NAME}}`` placeholders, filled in per run; fields that take numbers
therefore also accept strings.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from medperf_lite.errors import MedperfError

Number = int | float | str  # a placeholder such as "{{ADMIN_PORT}}" is filled in later


def _(text: str, default: Any = None, **kw) -> Any:
    """A field with its description (``scenario schema`` shows it to editors)."""
    return Field(default=default, description=text, **kw)


NAME = "the step's name in the run's output and report (default: its command); placeholders are filled in"
EXPLAIN = "guided mode's words for this step (default: the command's)"
USER = "the user the command acts as (MEDPERF_LITE_USER), by e-mail; without it, the profile's login"
INPUT = "what the command reads on its standard input (answers to its prompts, e.g. \"y\\n\")"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


COMPARATORS = ("equals", "matches", "gte", "in")


class StateCheck(Strict):
    """A check of one server record: ``path`` is dotted into it; one comparator, or none to
    ask only that the value exists."""

    name: str | None = _("the check's name in the report")
    table: str = _("the server's table: users, containers, experiments, aggregators, cas, datasets, "
                   "associations, events", ...)
    id: Number = _("the record's ID in that table", ...)
    path: str = _("dotted path into the record, e.g. progress.rounds_done or report.history.-1.sites "
                  "(a negative number counts from a list's end)", "")
    equals: Any = _("the value must equal this")
    matches: str | None = _("the value, as text, must match this regular expression")
    gte: Number | None = _("the value must be a number at least this")
    in_: list[Any] | None = _("the value must be one of these", alias="in")

    @model_validator(mode="after")
    def one_comparator(self):
        given = [c for c in COMPARATORS if (c if c != "in" else "in_") in self.model_fields_set]
        if len(given) > 1:
            raise ValueError(f"give at most one comparator, not {', '.join(given)}")
        return self


class Expect(Strict):
    """What a finished command must show."""

    exit: int | Literal["nonzero"] = _("the exit code, or \"nonzero\" for any failure", 0)
    output: str | None = _("a regular expression its output (stdout and stderr) must match")
    error: str | None = _("a regular expression its output must match (an error message's words)")
    no_output: str | None = _("a regular expression its output must not match")


class RunStep(Strict):
    """A shell command run to completion in the run's workspace."""

    run: str = _("the shell command (bash), as a user types it", ...)
    name: str | None = _(NAME)
    explain: str | None = _(EXPLAIN)
    user: str | None = _(USER)
    input: str | None = _(INPUT)
    expect: Expect = _("what the command must show (by default: exit 0)", Expect())
    retry: Number | None = _("seconds to rerun the command until its expectations hold")
    timeout: Number | None = _("seconds the command may take (default 300)")


class StartStep(Strict):
    """A long-running command (an aggregator, a training node) started in the background as a role."""

    start: str = _("the shell command (bash), as a user types it in another terminal", ...)
    role: str = _("the role's name: its log is logs/role-<role>.log; later steps wait for it or kill it", ...)
    name: str | None = _(NAME)
    explain: str | None = _(EXPLAIN)
    user: str | None = _(USER)
    input: str | None = _(INPUT)


class Wait(Strict):
    """One condition to wait for; the wait ends early, with the cause, once it cannot come true."""

    log: str | None = _("a regular expression to appear in the role's log")
    port: Number | None = _("a port on 127.0.0.1 to be listening")
    state: StateCheck | None = _("a server-state check to hold")
    exit: int | Literal["nonzero"] | None = _("the role's exit code to wait for (\"nonzero\": any failure)")
    output: str | None = _("with exit: a regular expression the role's log must match")
    role: str | None = _("the role the log or exit wait watches")
    timeout: Number | None = _("seconds to wait at most (default 300)")

    @model_validator(mode="after")
    def one_condition(self):
        given = [c for c in ("log", "port", "state", "exit") if getattr(self, c) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of log, port, state, exit")
        if given[0] in ("log", "exit") and not self.role:
            raise ValueError(f"a '{given[0]}' wait needs the 'role' it watches")
        if self.output is not None and given[0] != "exit":
            raise ValueError("'output' goes with an 'exit' wait")
        return self


class WaitStep(Strict):
    """Waits for a condition."""

    wait: Wait = _("the condition", ...)
    name: str | None = _(NAME)
    explain: str | None = _(EXPLAIN)


class KillStep(Strict):
    """Kills a role's whole process group (a fault on purpose)."""

    kill: str = _("the role to kill", ...)
    name: str | None = _(NAME)
    explain: str | None = _(EXPLAIN)
    signal: Literal["KILL", "TERM", "INT"] = _("the signal", "KILL")


class CheckStep(Strict):
    """Asserts a server-state check now."""

    check: StateCheck = _("the check", ...)
    name: str | None = _(NAME)
    explain: str | None = _(EXPLAIN)


STEP_KINDS: dict[str, type[Strict]] = {"run": RunStep, "start": StartStep, "wait": WaitStep, "kill": KillStep,
                                       "check": CheckStep}


class RepeatBlock(Strict):
    """Steps repeated once per data owner, with {{K}}, {{SITE}}, {{EMAIL}} and {{OWNER_DATA}} filled
    in for each (OWNERS data owners: --data-owners N)."""

    repeat: Literal["owners"] = _("what the block repeats over: the data owners", ...)
    steps: list[dict[str, Any]] = _("the steps of one owner's block (no repeat inside)", ..., min_length=1)
    from_: int = _("the first owner's number (1 by default: every owner)", 1, alias="from", ge=1)
    together: bool = _("the owners' blocks (run steps only) run side by side, as real data owners act "
                       "each on their own; each owner's steps stay in order", False)


class IncludeStep(Strict):
    """The steps of a part, inlined."""

    include: str = _("a part of scenarios/parts, by its name", ...)


class ScenarioFile(Strict):
    """The top of a scenario file (steps are checked one by one, after includes)."""

    name: str | None = _("the scenario's name (default: the file's)")
    description: str = _("one line on what it plays", "")
    steps: list[dict[str, Any]] = _("the ordered steps", ..., min_length=1)
    checks: list[StateCheck] = _("server-state checks made after the last step", [])
    vars: dict[str, Any] = _("the scenario's variables ({{NAME}} in its steps), which --var and the plugin's "
                             "vars= override; OWNERS is the number of data owners", {})
    fake_users: list[str] = _("names of variables that each get a fresh faker e-mail per run", [])
    tutorial_init: bool = _("lay out the tutorial's workspace (medperf-lite tutorial init) first", True)
    flow: Literal["nvflare", "flower"] = _("the MedPerf flow the run's home follows: nvflare (the seed tutorial's) "
                                           "or flower (MedPerf main's)", "nvflare")
    images: int | None = _("toy images per data owner (default: the tutorial's 300)")
    tolerate: list[str] = _("errors a role's log may show that are known and harmless here (regular "
                            "expressions)", [])
    with_their_fl: str | None = _("the scenario played instead when the run's FL container is not medperf-lite's "
                                  "own (--containers): the same commands, waiting on the FL framework's own signals "
                                  "where ours publish a progress report")


def _where(error: dict) -> str:
    return ".".join(str(part) for part in error["loc"]) or "(top)"


def _message(errors: list[dict]) -> str:
    first = errors[0]
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"'{_where(first)}': {first['msg']}{more}"


def check_file(data: object, source: str) -> ScenarioFile:
    if not isinstance(data, dict):
        raise MedperfError(f"scenario {source}: expected a mapping with 'steps'")
    try:
        return ScenarioFile.model_validate(data)
    except ValidationError as e:
        raise MedperfError(f"scenario {source}: {_message(e.errors())}") from None


def check_step(raw: object, where: str) -> tuple[str, dict]:
    """(kind, spec) of a valid step (``where``: FILE:LINE, step N); the spec keeps the file's own keys."""
    kinds = [k for k in STEP_KINDS if isinstance(raw, dict) and k in raw]
    if len(kinds) != 1:
        keys = ", ".join(sorted(raw)) if isinstance(raw, dict) else type(raw).__name__
        raise MedperfError(f"scenario {where}: give exactly one of {', '.join(STEP_KINDS)}, include, repeat "
                           f"(found: {keys})")
    try:
        STEP_KINDS[kinds[0]].model_validate(raw)
    except ValidationError as e:
        raise MedperfError(f"scenario {where} ({kinds[0]}): {_message(e.errors())}") from None
    return kinds[0], raw


def check_repeat(raw: dict, where: str) -> RepeatBlock:
    try:
        return RepeatBlock.model_validate(raw)
    except ValidationError as e:
        raise MedperfError(f"scenario {where} (repeat): {_message(e.errors())}") from None


def schema() -> dict:
    """JSON Schema of a scenario file, with each step kind spelled out."""
    top = ScenarioFile.model_json_schema()
    defs = top.setdefault("$defs", {})

    def hoisted(model: type[Strict]) -> dict:  # its definitions at the top, where "#/$defs/..." points
        found = model.model_json_schema()
        defs.update(found.pop("$defs", {}))
        return found

    kinds = [hoisted(model) for model in [*STEP_KINDS.values(), IncludeStep]]
    repeat = hoisted(RepeatBlock)
    repeat["properties"]["steps"]["items"] = {"anyOf": kinds}
    top["properties"]["steps"] = {**top["properties"]["steps"], "items": {"anyOf": [*kinds, repeat]}}
    return top
