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


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


COMPARATORS = ("equals", "matches", "gte", "in")


class StateCheck(Strict):
    """A check of one server record: ``path`` is dotted into it; one comparator, or none to
    ask only that the value exists."""

    name: str | None = None
    table: str
    id: Number
    path: str = ""
    equals: Any = None
    matches: str | None = None
    gte: Number | None = None
    in_: list[Any] | None = Field(default=None, alias="in")

    @model_validator(mode="after")
    def one_comparator(self):
        given = [c for c in COMPARATORS if (c if c != "in" else "in_") in self.model_fields_set]
        if len(given) > 1:
            raise ValueError(f"give at most one comparator, not {', '.join(given)}")
        return self


class Expect(Strict):
    exit: int | Literal["nonzero"] = 0
    output: str | None = None
    error: str | None = None
    no_output: str | None = None


class RunStep(Strict):
    run: str
    name: str | None = None
    explain: str | None = None  # guided mode's words for this step (default: the command's)
    user: str | None = None
    input: str | None = None
    expect: Expect = Expect()
    retry: Number | None = None
    timeout: Number | None = None


class StartStep(Strict):
    start: str
    role: str
    name: str | None = None
    explain: str | None = None  # guided mode's words for this step (default: the command's)
    user: str | None = None
    input: str | None = None


class Wait(Strict):
    log: str | None = None
    port: Number | None = None
    state: StateCheck | None = None
    exit: int | Literal["nonzero"] | None = None
    output: str | None = None
    role: str | None = None
    timeout: Number | None = None

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
    wait: Wait
    name: str | None = None
    explain: str | None = None  # guided mode's words for this step (default: the command's)


class KillStep(Strict):
    kill: str
    name: str | None = None
    explain: str | None = None  # guided mode's words for this step (default: the command's)
    signal: Literal["KILL", "TERM", "INT"] = "KILL"


class CheckStep(Strict):
    check: StateCheck
    name: str | None = None
    explain: str | None = None  # guided mode's words for this step (default: the command's)


STEP_KINDS: dict[str, type[Strict]] = {"run": RunStep, "start": StartStep, "wait": WaitStep, "kill": KillStep,
                                       "check": CheckStep}


class ScenarioFile(Strict):
    """The top of a scenario file (steps are checked one by one, after includes)."""

    name: str | None = None
    description: str = ""
    steps: list[dict[str, Any]] = Field(min_length=1)
    checks: list[StateCheck] = []
    vars: dict[str, Any] = {}
    fake_users: list[str] = []
    tutorial_init: bool = True
    images: int | None = None
    # errors a role's log may show that are known and harmless here (regular expressions)
    tolerate: list[str] = []


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


def check_step(raw: object, source: str, index: int) -> tuple[str, dict]:
    """(kind, spec) of a valid step; the spec keeps the file's own keys."""
    kinds = [k for k in STEP_KINDS if isinstance(raw, dict) and k in raw]
    if len(kinds) != 1:
        keys = ", ".join(sorted(raw)) if isinstance(raw, dict) else type(raw).__name__
        raise MedperfError(f"scenario {source}, step {index}: give exactly one of {', '.join(STEP_KINDS)} "
                           f"(found: {keys})")
    try:
        STEP_KINDS[kinds[0]].model_validate(raw)
    except ValidationError as e:
        raise MedperfError(f"scenario {source}, step {index} ({kinds[0]}): {_message(e.errors())}") from None
    return kinds[0], raw


def schema() -> dict:
    """JSON Schema of a scenario file, with each step kind spelled out."""
    top = ScenarioFile.model_json_schema()
    steps = {"anyOf": [model.model_json_schema() for model in STEP_KINDS.values()]}
    include = {"type": "object", "properties": {"include": {"type": "string"}}, "required": ["include"],
               "additionalProperties": False}
    top["properties"]["steps"] = {"type": "array", "minItems": 1, "items": {"anyOf": [*steps["anyOf"], include]}}
    return top
