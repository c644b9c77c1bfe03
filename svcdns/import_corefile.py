"""`svcdns import-corefile FILE`: a CoreDNS Corefile printed as svcdns `--config` YAML.

Standard output gets the YAML, each key with a comment naming the Corefile line it came
from, then the lines svcdns does by itself and the lines it cannot map, as comments. Each
line that does not map is also one line on standard error (`FILE:LINE: text: why`). Exit
status: 0 when everything maps, 1 when something does not, 2 when the file cannot be read
or is no Corefile (one line, no traceback). Imports corefile, corefile_map and config.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, TextIO

from svcdns.config import SETTINGS
from svcdns.corefile import CorefileError, parse, quoted
from svcdns.corefile_map import Line, Mapping, Value, map_corefile

MAX_BYTES = 1 << 20  # a Corefile is a few kilobytes; more is no Corefile
SHOWN = 100  # characters of a Corefile line a comment or message shows, at most
COMPLETE, INCOMPLETE, UNREADABLE = 0, 1, 2


def main(path: str, *, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    """The command: print the YAML, report what does not map; the exit status."""
    try:
        text = _read(Path(path))
        mapping = map_corefile(parse(text, os.environ))
    except CorefileError as error:
        print(f"svcdns: import-corefile {quoted(path)}: {error}", file=err)
        return UNREADABLE
    out.write(to_yaml(mapping, source=path))
    for line in mapping.unmapped:
        print(f"{_shown(path)}:{line.line}: {_shown(line.text)}: {_shown(line.why, 300)}", file=err)
    if mapping.unmapped:
        print(f"svcdns: import-corefile: {len(mapping.unmapped)} line(s) not mapped", file=err)
        return INCOMPLETE
    return COMPLETE


def _read(path: Path) -> str:
    try:
        with path.open("rb") as file:
            data = file.read(MAX_BYTES + 1)
    except OSError as error:
        raise CorefileError(error.strerror or str(error)) from None
    if len(data) > MAX_BYTES:
        raise CorefileError(f"larger than {MAX_BYTES} bytes: no Corefile")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise CorefileError(f"not UTF-8 text (byte {error.start})") from None


def to_yaml(mapping: Mapping, *, source: str) -> str:
    """The `--config` text: keys in the settings table's order, each citing its line."""
    lines = [
        f"# svcdns --config made by `svcdns import-corefile` from {_shown(source)}.",
        "# Each key names the Corefile line it came from. Lines svcdns does by itself and",
        "# lines it cannot map are listed at the end (and the latter on stderr).",
    ]
    for name, row in SETTINGS.items():
        if name == "stub_domains" and mapping.stubs:
            lines.append("stub-domain:")
            lines += [_entry(f"  {_scalar(s.key)}", s) for s in mapping.stubs.values()]
        elif name in mapping.settings:
            lines.append(_entry(row.flag.removeprefix("--"), mapping.settings[name]))
    lines += _listed("Nothing needed: svcdns does this by itself", mapping.nothing_needed)
    lines += _listed("NOT MAPPED: decide what to do about each", mapping.unmapped)
    return "\n".join(lines) + "\n"


def _entry(key: str, value: Value) -> str:
    return f"{key}: {_scalar(value.value)}  # line {value.line}: {_shown(value.why)}"


def _scalar(value: Any) -> str:
    """A YAML flow value: JSON is YAML, and quotes every string safely."""
    return json.dumps(value, ensure_ascii=True)


def _listed(title: str, lines: list[Line]) -> list[str]:
    if not lines:
        return []
    shown = [f"#   line {x.line}: {_shown(x.text)}: {_shown(x.why, 400)}" for x in lines]
    return ["", f"# {title}:", *shown]


def _shown(text: str, most: int = SHOWN) -> str:
    """`text` on one line, cut to `most` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= most else flat[: most - 3] + "..."
