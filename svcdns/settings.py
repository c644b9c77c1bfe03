"""What a row of the settings table (`config.Config`) holds, and the parsers values go through.

A row is one setting: default, what SIGHUP does with it, parser, flag, metavar, help and
the commands that take it. A parser turns a flag's text or a --config file's YAML value into
the setting's value, or raises `ConfigError` naming the flag in one line. Imports the stdlib,
core.zonedata (PodMode) and net (ListenAddress, parse_upstream) only.
"""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

from svcdns.core.zonedata import PodMode
from svcdns.net.forward import parse_upstream
from svcdns.net.transport import ListenAddress

T = TypeVar("T")
N = TypeVar("N", int, float)
Parser = Callable[[Any, str], T]  # (a flag's text or a file's value, the flag) -> the value
# How a flag takes its value: once, repeatable, a switch, or a switch with a --no- form.
Form = Literal["value", "repeat", "switch", "on-off"]

ROW = "setting"  # the key of a Config field's metadata that holds its row
ALL = frozenset({"serve", "records", "explain"})
SERVE = frozenset({"serve"})
DEFAULT_PORT = 53


class ConfigError(ValueError):
    """A setting that cannot be used; the message is the one line the user sees."""


class Reload(enum.Enum):
    """What SIGHUP does with a setting read again from --config."""

    LIVE = "applied while serving"
    RESTART = "named in the log line: only a restart changes it"
    FILE = "the --config file itself: SIGHUP reads it again, so neither"


@dataclass(frozen=True, slots=True)
class Setting(Generic[T]):
    """One row of the settings table; `name` and `flag` are filled in from its Config field."""

    default: T
    reload: Reload
    parse: Parser[T]
    help: str  # without the default: `help_line` adds it, from `default` (or `shown`)
    metavar: str | None = None
    flag: str = ""  # "": `--` and the field's name with dashes
    form: Form = "value"
    commands: frozenset[str] = SERVE
    group: str = "serving"  # the heading of `--help` it is listed under
    shown: str | None = None  # the default as --help says it, where `default` reads badly
    name: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.reload, Reload):
            raise TypeError(f"{self.help!r}: a setting is Reload.LIVE or RESTART (or FILE)")
        if not self.commands <= ALL:
            raise TypeError(f"{self.help!r}: commands are among {sorted(ALL)}")
        if (self.metavar is None) != (self.form in ("switch", "on-off")):
            raise TypeError(f"{self.help!r}: a metavar for a flag with a value, not a switch")

    def named(self, name: str) -> Setting[T]:
        return replace(self, name=name, flag=self.flag or "--" + name.replace("_", "-"))

    @property
    def key(self) -> str:
        """Its key in --config (`-` or `_`) and in the values `config.build` takes."""
        return self.flag.removeprefix("--").replace("-", "_")

    def read(self, value: Any) -> T:
        """The value from a flag or the file; None (not given): the default."""
        return self.default if value is None else self.parse(value, self.flag)

    def help_line(self) -> str:
        """`help`, then (repeatable; default X) as they apply."""
        shown = _shown(self.default) if self.shown is None else self.shown
        notes = ["repeatable"] if self.form == "repeat" else []
        notes += [f"default {shown}"] if shown else []
        return f"{self.help} ({'; '.join(notes)})" if notes else self.help


def setting(
    default: T,
    reload: Reload,
    parse: Parser[T],
    help: str,
    *,
    metavar: str | None = None,
    flag: str = "",
    form: Form = "value",
    commands: frozenset[str] = SERVE,
    group: str = "serving",
    shown: str | None = None,
) -> T:
    """A Config field that is a row of the table (typed as its default, as `field` is)."""
    row = Setting(default, reload, parse, help, metavar, flag, form, commands, group, shown)
    return field(default=default, metadata={ROW: row})


def rows(table: type[Any]) -> dict[str, Setting[Any]]:
    """Each field's row by field name, in order; a field that is not a row fails here."""
    found: dict[str, Setting[Any]] = {}
    for each in fields(table):
        row = each.metadata.get(ROW)
        if not isinstance(row, Setting):
            raise TypeError(f"{table.__name__}.{each.name}: not a setting(): live or restart?")
        found[each.name] = row.named(each.name)
    return found


def _shown(default: object) -> str:
    if isinstance(default, bool):
        return "on" if default else "off"
    if isinstance(default, enum.Enum):
        return str(default.value)
    if isinstance(default, float) and default.is_integer():
        return str(int(default))
    if isinstance(default, tuple):
        return ", ".join(map(str, default))
    return "" if default is None else str(default)


# -- parsers: (value, flag) -> the value, or ConfigError naming the flag -----------------------


def parse_listen(text: str) -> ListenAddress:
    """`ADDR:PORT`, `[V6ADDR]:PORT`, `ADDR` (port 53) or `:PORT` (all IPv4 addresses)."""
    host, port = text, str(DEFAULT_PORT)
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest:
            if not rest.startswith(":"):
                raise ConfigError(f"--listen {text}: expected [ADDRESS]:PORT")
            port = rest[1:]
    elif text.count(":") == 1:
        host, port = text.split(":")
    host = host or "0.0.0.0"
    try:
        ipaddress.ip_address(host)
        number = int(port)
    except ValueError:
        raise ConfigError(f"--listen {text}: expected ADDRESS:PORT with an IP address") from None
    if not 0 <= number < 65536:
        raise ConfigError(f"--listen {text}: port {number} out of range")
    return ListenAddress(host, number)


DEFAULT_LISTEN = (ListenAddress("0.0.0.0", DEFAULT_PORT),)


def listen(value: Any, flag: str) -> tuple[ListenAddress, ...]:
    return tuple(parse_listen(text) for text in _as_list(value)) or DEFAULT_LISTEN


def text(value: Any, flag: str) -> str:
    return str(value)


def zone(value: Any, flag: str) -> str:
    given = str(value)
    name = given.strip().strip(".").lower()
    labels = name.split(".")
    if not name or any(not 0 < len(label.encode()) <= 63 for label in labels):
        raise ConfigError(f"{flag} {given[:100]!r}: not a domain name")
    if len(name.encode()) > 253:  # RFC 1035 2.3.4: 255 octets in wire form
        raise ConfigError(f"{flag} {given[:100]!r}: longer than a domain name may be")
    return name


def number(
    kind: type[N], least: N, *, most: N | None = None, above: bool = False, says: str = ""
) -> Parser[N]:
    """A number of `kind` from `least` (more than it, with `above`) to `most`; `says`: the rule
    as its error words it."""
    rule = says or ("must be 0 or more" if least == 0 else f"must be at least {least}")

    def parse(value: Any, flag: str) -> N:
        try:
            parsed = kind(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{flag} {value!r}: not a number") from None
        within = parsed > least if above else parsed >= least  # so NaN is not
        if not within or (most is not None and not parsed <= most):
            raise ConfigError(f"{flag} {parsed}: {rule}")
        return parsed

    return parse


def path(value: Any, flag: str) -> Path:
    return Path(value)


def switch(value: Any, flag: str) -> bool:
    """A switch from a flag (True) or the config file (true/false, yes/no, 1/0)."""
    if isinstance(value, bool):
        return value
    said = str(value).strip().lower()
    if said in ("true", "yes", "on", "1"):
        return True
    if said in ("false", "no", "off", "0"):
        return False
    raise ConfigError(f"{flag} {value!r}: expected true or false")


def pods(value: Any, flag: str) -> PodMode:
    try:
        return PodMode(str(value))
    except ValueError:
        raise ConfigError(f"{flag} {value!r}: one of disabled, insecure, verified") from None


def log_format(value: Any, flag: str) -> str:
    said = str(value).lower()
    if said not in ("text", "json"):
        raise ConfigError(f"{flag} {value!r}: text or json")
    return said


METRICS_NAMES = ("svcdns", "coredns")


def metrics_names(value: Any, flag: str) -> str:
    """svcdns: its own metric names; coredns: CoreDNS's names as well (a migration)."""
    said = str(value).lower()
    if said not in METRICS_NAMES:
        raise ConfigError(f"{flag} {value!r}: svcdns or coredns")
    return said


def namespaces(value: Any, flag: str) -> frozenset[str] | None:
    items = value.split(",") if isinstance(value, str) else list(value)
    names = frozenset(str(n).strip() for n in items if str(n).strip())
    return names or None


def upstream(value: Any, flag: str) -> tuple[str, ...] | None:
    """Upstream servers; `none` alone: () (forwarding off)."""
    items = [value] if isinstance(value, str) else list(value)
    if [str(i).lower() for i in items] == ["none"]:
        return ()
    for item in items:
        _check_upstream(str(item), flag)
    return tuple(str(i) for i in items)


def stub_domains(value: Any, flag: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """`DOMAIN=ADDR[:PORT][,ADDR...]` items (flags), or a mapping DOMAIN: [ADDR, ...] (file)."""
    pairs: list[tuple[str, list[str]]] = []
    if isinstance(value, Mapping):
        pairs = [(str(k), _as_list(v)) for k, v in value.items()]
    else:
        for item in _as_list(value):
            domain, sep, listed = item.partition("=")
            if not sep or not listed.strip():
                raise ConfigError(f"{flag} {item!r}: expected DOMAIN=ADDR[:PORT][,ADDR...]")
            pairs.append((domain, listed.split(",")))
    stubs = []
    for domain, servers in pairs:
        name = zone(domain, flag)
        for server in servers:
            _check_upstream(server, flag)
        stubs.append((name, tuple(s.strip() for s in servers)))
    return tuple(stubs)


def _check_upstream(given: str, flag: str) -> None:
    try:
        parse_upstream(given)
    except (ValueError, OSError):
        raise ConfigError(f"{flag} {given!r}: expected ADDR, ADDR:PORT or [ADDR]:PORT") from None


def networks(value: Any, flag: str) -> tuple[str, ...]:
    """CIDRs, from `A,B` or a list; a bare address is its /32 or /128."""
    items = value.split(",") if isinstance(value, str) else _as_list(value)
    found = []
    for item in (i.strip() for i in items):
        try:
            found.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            raise ConfigError(f"{flag} {item!r}: not a CIDR") from None
    return tuple(found)


def some_networks(value: Any, flag: str) -> tuple[str, ...]:
    """CIDRs, where an empty value is none (--transfer-to)."""
    return networks(value, flag) if value else ()


def _as_list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else [str(v) for v in value]
