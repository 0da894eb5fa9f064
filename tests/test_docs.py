"""The documents against the code: defaults, choices and options stated in both.

`docs/spaces.md`'s "Every key" block against the space's dataclasses, the
rules' choices and the task table; every command's `--help` against its
argparse defaults; README's command table against the parser. Each check
is a function of the text, so a drift planted in a copy of the text is
caught (the last tests), as the next real one will be.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import tomllib
from pathlib import Path

import pytest

from auxsearch.cli.main import _parser
from auxsearch.core.names import objective_name
from auxsearch.core.rules import RULES
from auxsearch.core.space import _SECTIONS, load_space
from auxsearch.core.tasks import TASKS

REPO = Path(__file__).resolve().parents[1]
SPACES = (REPO / "docs" / "spaces.md").read_text(encoding="utf-8")
README = (REPO / "README.md").read_text(encoding="utf-8")
TOP_LEVEL = {"name": "", "seed": 1}  # the top-level keys' defaults (name: the file's stem)


# --- the space file's keys ----------------------------------------------------


def key_block(text: str) -> list[tuple[str, str, object, bool, str]]:
    """The "Every key" block: `(section, key, value, commented, comment)` per key line."""
    block = re.search(r"## Every key\n.*?```toml\n(.*?)```", text, re.S)
    assert block, "docs/spaces.md has no ```toml block under '## Every key'"
    section, lines = "", []
    for line in block.group(1).splitlines():
        if header := re.match(r"\[(\w+)\]", line):
            section = header.group(1)
            continue
        entry = re.match(r"(#\s*)?(\w+)\s*=", line)
        if not entry:
            continue
        text_line = line[len(entry.group(1) or ""):]
        value = tomllib.loads(text_line)[entry.group(2)]  # TOML drops the trailing comment
        comment = text_line.partition("#")[2] if "#" in text_line else ""
        lines.append((section, entry.group(2), value, bool(entry.group(1)), comment))
    return lines


def _defaults() -> dict[tuple[str, str], object]:
    defaults = {("", key): value for key, value in TOP_LEVEL.items()}
    for section, cls in _SECTIONS.items():
        for item in dataclasses.fields(cls):
            defaults[section, item.name] = item.default
    return defaults


def _plain(value: object) -> object:
    return list(value) if isinstance(value, tuple) else value


def key_block_drifts(text: str) -> list[str]:
    """Every way the block disagrees with the code, in words."""
    lines, defaults, drifts = key_block(text), _defaults(), []
    documented = [(section, key) for section, key, *_ in lines]
    default_space = load_space()
    for place in sorted(set(defaults) - set(documented)):
        drifts.append(f"{'.'.join(filter(None, place))} is not in the block")
    for place in sorted(set(documented) - set(defaults)):
        drifts.append(f"{'.'.join(filter(None, place))} is in the block but not in the code")
    for section, key, value, commented, comment in lines:
        name = f"{section}.{key}" if section else key
        default = defaults.get((section, key))
        rule = RULES.get(key)
        drifts += [f"{name}'s comment does not name {choice!r}"
                   for choice in (rule.choices if rule else ()) if choice not in comment]
        if (section, key) not in defaults or commented:
            continue
        if default in ("", None):  # no default: the default space's source and name
            shown = getattr(getattr(default_space, section), key) if section else getattr(
                default_space, key)
            if value != _plain(shown):
                drifts.append(f"{name} = {value!r}, but the default space has {shown!r}")
        elif value != _plain(default):
            drifts.append(f"{name} = {value!r}, but the code's default is {default!r}")
    return drifts


def objective_drifts(text: str) -> list[str]:
    """The task objectives the text lists, `` `name` (tasks) ``, against the task table."""
    listed = {}
    for name, tasks in re.findall(r"`(val_main_\w+)` \(([^)]*)\)", text):
        for task in re.split(r",\s*|\s+and\s+", tasks):
            listed[task.strip()] = name
    return [f"task {task}'s objective is {objective_name(spec.metric)}; the text says "
            f"{listed.get(task)}" for task, spec in TASKS.items()
            if listed.get(task) != objective_name(spec.metric)]


def test_every_key_of_the_block_has_the_codes_default():
    assert key_block_drifts(SPACES) == []


def test_the_objectives_named_are_the_task_tables():
    assert objective_drifts(SPACES) == []


# --- the command line -----------------------------------------------------------


def commands() -> dict[str, argparse.ArgumentParser]:
    parser = _parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(sub.choices)


def _options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in parser._actions if a.option_strings
            and a.option_strings[-1] not in ("--help", "--verbose", "--debug")]


def _same(text: str, value: object) -> bool:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return float(text) == float(value)
        except ValueError:
            return False
    return text == str(value)


def help_drifts(parsers: dict[str, argparse.ArgumentParser]) -> list[str]:
    """Options whose help states another default than argparse's, or none."""
    drifts, fields = [], {f"{s}.{f.name}" for s, c in _SECTIONS.items()
                          for f in dataclasses.fields(c)}
    for command, parser in parsers.items():
        for action in _options(parser):
            option, text = f"{command} {action.option_strings[-1]}", action.help or ""
            stated = re.search(r"\(default:? ([^\s;),]+?):?(?=[\s;),])", text)
            has_default = action.default is not None and not isinstance(action.default, bool)
            if has_default and not stated:
                drifts.append(f"{option}: default {action.default!r} is not in its help")
            elif has_default and not _same(stated.group(1), action.default):
                drifts.append(f"{option}: help says default {stated.group(1)}, "
                              f"argparse has {action.default!r}")
            for key in re.findall(r"override (?:the space's )?([a-z_]+\.[a-z_]+)", text):
                if key not in fields:
                    drifts.append(f"{option}: overrides {key}, which is no space key")
    return drifts


def test_every_help_states_the_default_argparse_has():
    assert help_drifts(commands()) == []


def readme_drifts(text: str, parsers: dict[str, argparse.ArgumentParser]) -> list[str]:
    """README's command table against the parser: commands, options, defaults."""
    table = re.search(r"## Command line\n(.*?)\n## ", text, re.S).group(1)
    rows = {m.group(1): (m.group(2), m.group(3)) for m in re.finditer(
        r"^\| `([a-z-]+)([^`]*)` \| (.*) \|$", table, re.M)}
    drifts = [f"command {c} is not in README's table" for c in parsers if c not in rows]
    drifts += [f"README lists {c}, which is no command" for c in rows if c not in parsers]
    for command, (synopsis, words) in rows.items():
        if command not in parsers:
            continue
        given = {o for a in _options(parsers[command]) for o in a.option_strings
                 if o.startswith("--")}
        listed = set(re.findall(r"--[a-z][a-z-]*", synopsis))
        shared = "takes `run`'s other options" in words  # chief: run's options besides
        missing = given - listed - (set(re.findall(r"--[a-z][a-z-]*", rows["run"][0]))
                                    if shared else set())
        drifts += [f"{command} {o} is not in README's synopsis" for o in sorted(missing)]
        drifts += [f"README's {command} lists {o}, which it does not take"
                   for o in sorted(listed - given)]
        defaults = {a.default for a in _options(parsers[command])
                    if isinstance(a.default, (int, float)) and not isinstance(a.default, bool)}
        for number in re.findall(r"default (?:[a-z]+ )?(\d+(?:\.\d+)?)\b", words):
            if not any(_same(number, d) for d in defaults):
                drifts.append(f"README says {command}'s default is {number}; its defaults "
                              f"are {sorted(defaults)}")
    return drifts


def test_readmes_command_table_matches_the_parser():
    assert readme_drifts(README, commands()) == []


# --- each check catches a planted drift ------------------------------------------


@pytest.mark.parametrize("old, new, words", [
    ("race_seeds = 2 ", "race_seeds = 0 ", "hyperband.race_seeds = 0, but the code's default is 2"),
    ('sampler = "model"', 'sampler = "random"', "hyperband.sampler = 'random'"),
    ("batch_size = 64 ", "batch_size = 32 ", "training.batch_size = 32"),
    ('builtin = "digits" ', 'builtin = "digts" ', "data.builtin = 'digts', but the default space"),
    ("# loader = ", "# loadr = ", "data.loader is not in the block"),
    ("adam, adamw, sgd,", "adam, sgd,", "training.optimizer's comment does not name 'adamw'"),
])
def test_a_drift_planted_in_the_key_block_is_caught(old, new, words):
    assert old in SPACES
    assert any(words in drift for drift in key_block_drifts(SPACES.replace(old, new, 1)))


def test_a_drift_planted_in_the_objectives_is_caught():
    planted = SPACES.replace("`val_main_mae` (regression)", "`val_main_loss` (regression)")
    assert objective_drifts(planted) == [
        "task regression's objective is val_main_mae; the text says val_main_loss"]


def test_a_drift_planted_in_a_help_is_caught():
    parsers = commands()
    (seeds,) = [a for a in parsers["show"]._actions if "--top" in a.option_strings]
    seeds.default = 7
    assert help_drifts(parsers) == ["show --top: help says default 10, argparse has 7"]
    seeds.help = "rows to show"
    assert help_drifts(parsers) == ["show --top: default 7 is not in its help"]


def test_a_drift_planted_in_the_readme_is_caught():
    parsers = commands()
    planted = README.replace("[--rank N]", "[--rnk N]").replace("(default rank 1)",
                                                                "(default rank 2)")
    assert [d for d in readme_drifts(planted, parsers) if "export-model" in d] == [
        "export-model --rank is not in README's synopsis",
        "README's export-model lists --rnk, which it does not take",
        "README says export-model's default is 2; its defaults are [1]"]

