"""Search spaces: TOML files that say what to search, on what, and how long.

A space file has a few top-level keys and one table per concern
(`[model]`, `[data]`, `[objective]`, `[taps]`, `[training]`,
`[hyperband]`), one dataclass each below; every key is optional except
where noted, and every value is checked before anything is built or
trained. Every key, with its default and what it allows, is listed once, in
docs/spaces.md ("Every key"); `tests/test_docs.py` checks that list against
these dataclasses.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, get_type_hints

from auxsearch.core.errors import SpaceError
from auxsearch.core.imports import is_reference
from auxsearch.core.names import objective_name
from auxsearch.core.rules import RULES, check, check_choice, fail
from auxsearch.core.suggest import did_you_mean
from auxsearch.core.tasks import TASKS


@dataclass(frozen=True)
class ModelSpec:
    """Where the model comes from: one of `builtin`, `builder`, `file`.

    A relative `file` is read from the space file's directory.
    """

    builtin: str = ""
    builder: str = ""
    file: str = ""
    unsafe: bool = False


@dataclass(frozen=True)
class DataSpec:
    """Where the data comes from (`builtin`, `file` or `loader`), its task, its splits.

    A relative `file` is read from the space file's directory; a `loader`
    (``"pkg.mod:fn"``) is imported as a model `builder` is. `ignore_label`
    is the label of positions that count in no loss and no metric (dense
    tasks only).
    """

    builtin: str = ""
    file: str = ""
    loader: str = ""
    label: str = ""
    task: str = "multiclass"
    ignore_label: int | None = None
    validation_fraction: float = 0.2
    test_fraction: float = 0.2


@dataclass(frozen=True)
class ObjectiveSpec:
    """The metric the search ranks by; empty: the task's."""

    name: str = ""
    direction: str = ""


@dataclass(frozen=True)
class TapSpec:
    """Which layers may be tapped, with what kinds of loss, how strongly."""

    candidates: tuple[str, ...] | None = None
    weight_range: tuple[float, float] = (0.01, 1.0)
    max_taps: int = 0
    kinds: tuple[str, ...] = ("head",)
    schedules: tuple[str, ...] = ("constant",)
    off_after: float = 0.5
    head_units: tuple[int, ...] = (0,)
    penalty: str = "l2"


@dataclass(frozen=True)
class TrainingSpec:
    """How each trial trains."""

    optimizer: str = "adam"
    learning_rate: float = 1e-3
    batch_size: int = 64
    pack: int | str = 1  # how many trials train at once (see `packing`), or "auto"


@dataclass(frozen=True)
class HyperbandSpec:
    """Keras Tuner's Hyperband settings, and the baseline's extra seeds.

    After the search, the configurations that reached `max_epochs` race on
    up to `race_seeds` more paired seeds (see `search.race`), and the
    baseline is trained on `baseline_seeds` more seeds (the race's count):
    the leaderboard's noise floor. `sampler`
    says how new configurations are drawn: at random, as Keras Tuner does,
    or by a model of the results so far (`search.sampler`).
    """

    max_epochs: int = 9
    factor: int = 3
    hyperband_iterations: int = 1
    baseline_seeds: int = 2
    race_seeds: int = 2
    sampler: str = "model"


@dataclass(frozen=True)
class SearchSpace:
    """A validated search space, as read from a TOML file."""

    name: str
    model: ModelSpec
    data: DataSpec
    seed: int = 1
    objective: ObjectiveSpec = field(default_factory=ObjectiveSpec)
    taps: TapSpec = field(default_factory=TapSpec)
    training: TrainingSpec = field(default_factory=TrainingSpec)
    hyperband: HyperbandSpec = field(default_factory=HyperbandSpec)
    source: str = field(default="", compare=False, repr=False)
    path: Path | None = field(default=None, compare=False)


_SECTIONS = {
    "model": ModelSpec,
    "data": DataSpec,
    "objective": ObjectiveSpec,
    "taps": TapSpec,
    "training": TrainingSpec,
    "hyperband": HyperbandSpec,
}
_REQUIRED_SECTIONS = ("model", "data")
_TOP_LEVEL = ("name", "seed", *_SECTIONS)


def default_space_path() -> Path:
    """Returns the path of the embedded default space, `digits_cnn.toml`."""
    return Path(str(resources.files("auxsearch") / "spaces" / "digits_cnn.toml"))


def load_space(path: str | Path | None = None) -> SearchSpace:
    """Reads and validates a search-space file.

    Args:
        path: The TOML file. Defaults to the embedded default space.

    Returns:
        The validated `SearchSpace`.

    Raises:
        SpaceError: If the file cannot be read or parsed, or a key or value in
            it is not allowed. The message names the file and the key.
    """
    path = Path(path) if path is not None else default_space_path()
    try:
        source = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpaceError(f"{path}: no such search-space file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise SpaceError(f"{path}: cannot read the file ({err})") from None
    return parse_space(source, name=path.stem, where=str(path), path=path)


def parse_space(
    source: str, name: str, where: str = "<string>", path: Path | None = None
) -> SearchSpace:
    """Validates the text of a search-space file; see `load_space`."""
    try:
        table = tomllib.loads(source)
    except tomllib.TOMLDecodeError as err:
        raise SpaceError(f"{where}: invalid TOML: {err}") from None
    _check_keys(table, _TOP_LEVEL, where, "")
    for section in _REQUIRED_SECTIONS:
        if section not in table:
            raise SpaceError(f"{where}: the [{section}] table is required")
    sections = {
        key: _section(cls, table.get(key, {}), where, key)
        for key, cls in _SECTIONS.items()
    }
    # Files are named relative to the space file; a run keeps them absolute.
    base = path.parent if path is not None else Path.cwd()
    for key in ("model", "data"):
        if sections[key].file:
            absolute = str((base / sections[key].file).resolve())
            sections[key] = dataclasses.replace(sections[key], file=absolute)
    space = SearchSpace(
        name=_typed(table.get("name", name), str, where, "name"),
        seed=_typed(table.get("seed", 1), int, where, "seed"),
        source=source,
        path=path,
        **sections,
    )
    _check_values(space, where)
    return space


def dump_space(space: SearchSpace) -> str:
    """Returns the TOML text of a space, as `parse_space` reads it back.

    A run directory keeps the space it ran with in this form, command-line
    overrides included.
    """
    lines = [f"name = {_toml(space.name)}", f"seed = {_toml(space.seed)}"]
    for key in _SECTIONS:
        lines += ["", f"[{key}]"]
        for spec in dataclasses.fields(getattr(space, key)):
            value = getattr(getattr(space, key), spec.name)
            if value is not None and value != "":
                lines.append(f"{spec.name} = {_toml(value)}")
    return "\n".join(lines) + "\n"


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string
    return repr(value)


def _section(cls: type, table: Any, where: str, key: str) -> Any:
    if not isinstance(table, dict):
        raise SpaceError(f"{where}: {key!r} must be a table ([{key}])")
    names = [f.name for f in dataclasses.fields(cls)]
    _check_keys(table, names, where, f"{key}.")
    hints = get_type_hints(cls)
    values = {
        name: _typed(value, hints[name], where, f"{key}.{name}")
        for name, value in table.items()
    }
    return cls(**values)


def _check_keys(table: dict, allowed: Any, where: str, prefix: str) -> None:
    allowed = list(allowed)
    for key in table:
        if key not in allowed:
            hint = did_you_mean(key, allowed, prefix=prefix)
            place = f"in [{prefix.rstrip('.')}]" if prefix else "at the top level"
            raise SpaceError(
                f"{where}: unknown key '{prefix}{key}'{hint}; allowed keys "
                f"{place}: {', '.join(allowed)}"
            )


def _typed(value: Any, hint: Any, where: str, key: str) -> Any:
    """Checks `value` against a field's type hint and converts lists."""
    text = str(hint)
    if hint is bool or text == "bool":
        ok = isinstance(value, bool)
        kind = "true or false"
    elif hint is str or text == "str":
        ok = isinstance(value, str)
        kind = "a string"
    elif hint is int or text in ("int", "int | None"):
        ok = isinstance(value, int) and not isinstance(value, bool)
        kind = "an integer"
    elif text == "int | str":
        ok = isinstance(value, (int, str)) and not isinstance(value, bool)
        kind = "an integer or a string"
    elif hint is float or text == "float":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
        kind = "a number"
    elif "tuple[float, float]" in text:
        ok = (isinstance(value, list) and len(value) == 2
              and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                      for v in value))
        value = tuple(float(v) for v in value) if ok else value
        kind = "a list of two numbers, [low, high]"
    elif "tuple[int, ...]" in text:
        ok = (isinstance(value, list) and value
              and all(isinstance(v, int) and not isinstance(v, bool) for v in value))
        value = tuple(value) if ok else value
        kind = "a non-empty list of integers"
    else:  # tuple[str, ...] (| None)
        ok = (isinstance(value, list) and value
              and all(isinstance(v, str) for v in value))
        value = tuple(value) if ok else value
        kind = "a non-empty list of strings"
    if not ok:
        raise SpaceError(f"{where}: {key} must be {kind}; got {value!r}")
    return value


def _check_values(space: SearchSpace, where: str) -> None:
    # Built-in names are checked where they are looked up (`models.builders`,
    # `data.load`): the space file names them, the stages that load them know them.
    model, data, taps = space.model, space.data, space.taps
    _one_of(model, ("builtin", "builder", "file"), where, "model")
    _one_of(data, ("builtin", "file", "loader"), where, "data")
    for key, reference in (("model.builder", model.builder), ("data.loader", data.loader)):
        if reference and not is_reference(reference):
            fail(key, "'package.module:function'", reference, where)
    if model.file:
        _existing(model.file, (".keras",), where, "model.file")
    if data.file:
        _existing(data.file, (".npz", ".csv"), where, "data.file")
    if bool(data.label) != data.file.endswith(".csv"):
        fail("data.label", "set for a .csv file (its label column), and only then",
             data.label or None, where)
    # Each setting by the rule the HyperModel and the CLI check it with too.
    for section, spec in (("data", data), ("taps", taps), ("training", space.training),
                          ("hyperband", space.hyperband)):
        for item in dataclasses.fields(spec):
            if item.name in RULES or item.name == "task":
                check(item.name, getattr(spec, item.name), f"{section}.{item.name}", where)
    dense = [name for name, task in TASKS.items() if task.positions]
    if data.ignore_label is not None and data.task not in dense:
        fail("data.ignore_label", f"set only for a per-position task ({', '.join(dense)})",
             data.ignore_label, where)
    if data.validation_fraction + data.test_fraction >= 1:
        fail("data.test_fraction", "validation_fraction + test_fraction < 1",
             data.test_fraction, where)
    check("seed", space.seed, "seed", where)
    _check_objective(space, where)


def _one_of(spec: Any, keys: tuple[str, ...], where: str, section: str) -> None:
    given = [key for key in keys if getattr(spec, key)]
    if len(given) != 1:
        got = " and ".join(given) if given else "none"
        raise SpaceError(
            f"{where}: [{section}] needs exactly one of {', '.join(keys)}; got {got}"
        )


def _existing(file: str, suffixes: tuple[str, ...], where: str, key: str) -> None:
    path = Path(file)
    if path.suffix not in suffixes:
        raise SpaceError(
            f"{where}: {key} = {file!r} must be a {' or '.join(suffixes)} file"
        )
    if not path.is_file():
        raise SpaceError(f"{where}: {key} = {file!r}: no such file")


def _task_objectives(task: str) -> dict[str, str]:
    """What a task's objective can be, with its direction: the main output's
    validation metric (from the task table) or its validation loss."""
    spec = TASKS[task]
    return {objective_name(spec.metric): spec.direction, objective_name("loss"): "min"}


def objective_of(space: SearchSpace) -> tuple[str, str]:
    """Returns the space's objective `(name, direction)`, the task's by default."""
    objectives = _task_objectives(space.data.task)
    name = space.objective.name or next(iter(objectives))
    return name, space.objective.direction or objectives[name]


def _check_objective(space: SearchSpace, where: str) -> None:
    if space.objective.name:
        check_choice(space.objective.name, list(_task_objectives(space.data.task)),
                     "objective.name", where)
    if space.objective.direction:
        check("direction", space.objective.direction, "objective.direction", where)
