"""The settings table: every flag, its help and default, and the reload lists come from its rows.

A row without a live/restart choice cannot be written; `svcdns serve --help` and README
OPTIONS say each default once, as the table has it.
"""

from __future__ import annotations

import argparse
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from helpers import serve_help

from svcdns.cli import _parser
from svcdns.config import SETTINGS, Config, ConfigError, build, read_file
from svcdns.settings import Reload, Setting, number, rows, setting, switch, text

REPO = Path(__file__).resolve().parents[1]
COMMANDS = ("serve", "records", "explain")
NOT_SETTINGS = {"-h", "--help", "-x"}  # explain's -x ADDRESS is a question, not a setting


def _subparser(command: str) -> argparse.ArgumentParser:
    (commands,) = [a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction)]
    found: argparse.ArgumentParser = commands.choices[command]
    return found


def _shows_default(row: Setting[Any]) -> bool:
    return "(default " in row.help_line() or "; default " in row.help_line()


# -- a row must say what SIGHUP does with it ----------------------------------------------


def test_a_row_without_a_live_or_restart_choice_fails() -> None:
    with pytest.raises(TypeError, match=r"Reload\.LIVE or RESTART"):
        setting(5, None, number(int, 0), "a number")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="reload"):
        setting(5, parse=number(int, 0), help="a number")  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        pytest.param({"commands": frozenset({"sevre"})}, "commands are among", id="command"),
        pytest.param({"form": "switch"}, "not a switch", id="switch-with-metavar"),
        pytest.param({"metavar": None}, "a metavar for a flag", id="value-without-metavar"),
    ],
)
def test_a_row_that_cannot_be_a_flag_fails(arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(TypeError, match=message):
        setting(5, Reload.LIVE, number(int, 0), "a number", **{"metavar": "N", **arguments})


def test_a_field_that_is_not_a_row_fails() -> None:
    @dataclass(frozen=True)
    class Table:
        ttl: int = setting(5, Reload.LIVE, number(int, 0), "TTL", metavar="SECONDS")
        extra: int = field(default=0)  # no row: neither live nor restart

    with pytest.raises(TypeError, match=r"Table\.extra: not a setting"):
        rows(Table)


def test_a_new_row_is_a_flag_a_file_key_and_a_reload_choice() -> None:
    @dataclass(frozen=True)
    class Table:
        dry_run: bool = setting(False, Reload.RESTART, switch, "only say", form="switch")
        motd: str = setting("hi", Reload.LIVE, text, "hello", metavar="TEXT", flag="--banner")

    dry_run, motd = rows(Table).values()
    assert (dry_run.name, dry_run.flag, dry_run.key) == ("dry_run", "--dry-run", "dry_run")
    assert (motd.name, motd.flag, motd.key) == ("motd", "--banner", "banner")
    assert motd.help_line() == "hello (default hi)"
    assert (dry_run.read(None), dry_run.read("yes"), motd.read(None)) == (False, True, "hi")


# -- every flag, its help and its default come from the table -----------------------------


@pytest.mark.parametrize("command", COMMANDS)
def test_every_flag_of_a_command_is_a_row(command: str) -> None:
    parser = _subparser(command)
    flags = {option for option in parser._option_string_actions if option not in NOT_SETTINGS}
    expected = {row.flag for row in SETTINGS.values() if command in row.commands}
    assert flags == expected | {"--no-rotate" for flag in expected if flag == "--rotate"}
    for row in SETTINGS.values():
        if command not in row.commands:
            continue
        action = parser._option_string_actions[row.flag]
        assert action.dest == row.key and action.default is None, row.flag
        assert str(action.help).replace("%%", "%") == row.help_line(), row.flag
        assert action.metavar == row.metavar, row.flag


def test_serve_help_shows_each_default_once_from_the_table() -> None:
    text = serve_help(columns=1000)  # one line a flag: nothing wrapped
    shown = [row for row in SETTINGS.values() if "serve" in row.commands and _shows_default(row)]
    assert text.count("default ") == len(shown)
    for row in SETTINGS.values():
        assert "default" not in row.help, f"{row.flag}: the table adds the default"
        if "serve" in row.commands:
            assert row.help_line() in text, row.flag


def test_readme_options_give_the_tables_defaults() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    options = readme.partition("\n## OPTIONS\n")[2].partition("\n## ")[0]
    lines = [line for line in options.splitlines() if line.startswith("| `")]
    cells = [re.split(r"(?<!\\)\|", line)[1:3] for line in lines]
    for row in SETTINGS.values():
        (said,) = [d for f, d in cells if re.search(rf"`{row.flag}[ `]", f)] or [None]
        assert said is not None, f"README OPTIONS has no row for {row.flag}"
        default = row.help_line().rpartition("default ")[2].removesuffix(")")
        if _shows_default(row):
            assert said.replace("`", "").strip().startswith(default), row.flag


# -- the file takes the flags' keys; values are checked by the row's parser ----------------


def test_file_keys_are_the_flags_with_dashes_or_underscores(tmp_path: Path) -> None:
    path = tmp_path / "svcdns.yaml"
    path.write_text("stub-domain: {corp.example: [10.1.0.53]}\nmax_qps_per_client: 0\n")
    config = build(read_file(path))
    assert config.stub_domains == (("corp.example", ("10.1.0.53",)),)
    assert config.max_qps_per_client == 0
    assert build({"config": str(path)}).config_file == path


def test_defaults_are_the_tables() -> None:
    assert build({}) == Config()
    assert {name: getattr(Config(), name) for name in SETTINGS} == {
        name: row.default for name, row in SETTINGS.items()
    }


@pytest.mark.parametrize(
    ("values", "message"),
    [
        pytest.param({"lameduck": "-1"}, "--lameduck -1.0: must be 0 or more", id="lameduck"),
        pytest.param({"watch_timeout": 0}, "--watch-timeout 0: must be at least 1", id="watch"),
        pytest.param({"startup_timeout": -2}, "--startup-timeout -2.0", id="startup"),
        pytest.param({"serve_stale": "x"}, "--serve-stale 'x': not a number", id="stale"),
        pytest.param({"cache_ttl": -1}, "--cache-ttl -1: must be 0 or more", id="cache-ttl"),
        pytest.param({"ttl": 3601}, "between 0 and 3600 seconds", id="ttl-too-long"),
        pytest.param({"tcp_idle_timeout": "nan"}, "--tcp-idle-timeout nan", id="idle-nan"),
        pytest.param({"max_qps_per_client": -1}, r"0 \(no limit\) or more", id="qps"),
        pytest.param({"log_format": "xml"}, "--log-format 'xml': text or json", id="log-format"),
        pytest.param({"transfer_to": ["x"]}, "--transfer-to 'x': not a CIDR", id="transfer-to"),
        pytest.param({"stub_domain": ["..=1.2.3.4"]}, "--stub-domain '..'", id="stub-name"),
        pytest.param({"log_queries": "maybe"}, "--log-queries 'maybe'", id="switch"),
        pytest.param({"manifests": "a", "context": "b"}, "two sources", id="two-sources"),
    ],
)
def test_a_bad_value_is_one_line_naming_its_flag(values: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as raised:
        build(values)
    assert "\n" not in str(raised.value)


def test_seconds_are_read_as_given() -> None:
    config = build({"lameduck": "1.5", "watch_timeout": "30", "transfer_to": ""})
    assert (config.lameduck, config.watch_timeout, config.transfer_to) == (1.5, 30, ())
    assert math.isclose(build({"serve_stale": 2}).serve_stale, 2.0)
