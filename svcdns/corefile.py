"""The Corefile grammar: CoreDNS's configuration text read into server blocks and directives.

CoreDNS reads its Corefile with the Caddy (v1) parser, so this follows it: server blocks
`KEY [KEY...] { ... }` (keys split by spaces or commas, or one block without braces), a
directive per line whose arguments end at the line's end unless a `{` opens a block, `#`
comments where a token starts, `"quoted strings"` (with `\\"`), `{$ENV}` placeholders
(replaced from the environment; an unset one reads as empty, as Caddy's does) and
`(snippet) { ... }` definitions that `import snippet` splices in. An `import` of files is
kept as a directive for the caller to report: the files it names are not read. `Key`
reads a server block key (`dns://zone:port`). Pure: text in, a `Corefile` out, or one
`CorefileError` line. Imports nothing of svcdns.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

REVERSE = ("in-addr.arpa", "ip6.arpa")
DNS_PORT = 53
QUOTED_INPUT = 100  # characters of the input an error message quotes, at most
MAX_SPLICES = 1000  # snippet imports in one file: more is an import loop
_PLACEHOLDER = re.compile(r"\{\$([A-Za-z_][A-Za-z0-9_]*)\}")


class CorefileError(ValueError):
    """Text that is no Corefile; the message (one line, input quoted at most ~100
    characters) names the line."""


def quoted(text: str) -> str:
    """`text` as an error message quotes it: repr'd, cut to QUOTED_INPUT characters."""
    if len(text) <= QUOTED_INPUT:
        return repr(text)
    return repr(text[:QUOTED_INPUT]) + f"... ({len(text)} characters)"


@dataclass(frozen=True, slots=True)
class Token:
    text: str
    line: int
    quoted: bool = False

    @property
    def opens(self) -> bool:
        return self.text == "{" and not self.quoted

    @property
    def closes(self) -> bool:
        return self.text == "}" and not self.quoted


@dataclass(frozen=True, slots=True)
class Directive:
    """`name args... [{ block }]` at `line`; `block` holds the directives inside braces."""

    name: str
    args: tuple[str, ...]
    line: int
    block: tuple[Directive, ...] = ()
    has_block: bool = False

    def text(self) -> str:
        """The directive as written, on one line (its block shown as `{...}`)."""
        return " ".join((self.name, *self.args, *(["{...}"] if self.has_block else [])))


@dataclass(frozen=True, slots=True)
class ServerBlock:
    keys: tuple[str, ...]
    line: int
    directives: tuple[Directive, ...]


@dataclass(frozen=True, slots=True)
class Corefile:
    """The server blocks in order; `top` holds the `import` lines outside any block, and
    `unset` the `{$NAME}` placeholders the environment lacked, as (line, name)."""

    blocks: tuple[ServerBlock, ...]
    top: tuple[Directive, ...] = ()
    unset: tuple[tuple[int, str], ...] = field(default=())


def tokens(text: str, env: Mapping[str, str]) -> tuple[list[Token], list[tuple[int, str]]]:
    """The tokens of `text`, placeholders replaced; and the unset placeholders met."""
    found: list[Token] = []
    unset: list[tuple[int, str]] = []
    line, i, size = 1, 0, len(text)
    while i < size:
        ch = text[i]
        if ch == "\n":
            line += 1
            i += 1
        elif ch.isspace():
            i += 1
        elif ch == "#":  # a comment only where a token starts (Caddy's rule)
            while i < size and text[i] != "\n":
                i += 1
        elif ch == '"':
            start, value, i = line, [], i + 1
            while True:
                if i >= size:
                    raise CorefileError(f"line {start}: a quoted string is never closed")
                if text[i] == "\\" and i + 1 < size and text[i + 1] == '"':
                    value.append('"')
                    i += 2
                    continue
                if text[i] == '"':
                    i += 1
                    break
                line += text[i] == "\n"
                value.append(text[i])
                i += 1
            found.append(Token(_expand("".join(value), start, env, unset), start, quoted=True))
        else:
            start = i
            while i < size and not text[i].isspace() and text[i] != '"':
                i += 1
            found.append(Token(_expand(text[start:i], line, env, unset), line))
    return found, unset


def _expand(word: str, line: int, env: Mapping[str, str], unset: list[tuple[int, str]]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in env:
            unset.append((line, name))
        return env.get(name, "")

    return _PLACEHOLDER.sub(value, word) if "{$" in word else word


def parse(text: str, env: Mapping[str, str] | None = None) -> Corefile:
    """The Corefile `text` holds; `env` fills `{$NAME}` placeholders (default: none set)."""
    found, unset = tokens(text, env or {})
    parser = _Parser(found)
    blocks, top = parser.server_blocks()
    return Corefile(tuple(blocks), tuple(top), tuple(unset))


class _Parser:
    def __init__(self, found: list[Token]) -> None:
        self.tokens = found
        self.at = 0
        self.snippets: dict[str, list[Token]] = {}
        self.splices = 0

    def peek(self) -> Token | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def next(self) -> Token:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def server_blocks(self) -> tuple[list[ServerBlock], list[Directive]]:
        blocks: list[ServerBlock] = []
        top: list[Directive] = []
        while (first := self.peek()) is not None:
            if first.closes:
                raise CorefileError(f"line {first.line}: a '}}' closes no block")
            if first.text == "import" and not first.quoted:
                imported = self.directive()
                if imported is not None:  # a snippet was spliced in, or files named
                    top.append(imported)
                continue
            keys = self.keys()
            following = self.peek()
            if keys[0].text.startswith("(") and keys[0].text.endswith(")"):
                self.snippet(keys)
                continue
            if following is not None and following.opens:
                self.next()
                body = self.body(following.line)
            elif not blocks and not top:  # one server block may go without braces
                body = self.until_end()
            else:
                raise CorefileError(
                    f"line {keys[0].line}: expected '{{' after the server block keys "
                    f"{quoted(' '.join(k.text for k in keys))}"
                )
            names = tuple(k for key in keys for k in key.text.split(",") if k)
            if not names:  # `,` alone, or an unset {$KEY}
                raise CorefileError(f"line {keys[0].line}: a server block without a key")
            blocks.append(ServerBlock(names, keys[0].line, tuple(body)))
        return blocks, top

    def keys(self) -> list[Token]:
        """The keys of a server block: its first line, and the next while one ends in `,`."""
        keys = [self.next()]
        while (token := self.peek()) is not None and not token.opens and not token.closes:
            if token.line != keys[-1].line and not keys[-1].text.endswith(","):
                break
            keys.append(self.next())
        return keys

    def snippet(self, keys: list[Token]) -> None:
        """`(name) { tokens }`: kept to be spliced in where `import name` stands."""
        opening = self.peek()
        if len(keys) != 1 or opening is None or not opening.opens:
            raise CorefileError(f"line {keys[0].line}: a snippet is `(name) {{ ... }}`")
        self.next()
        depth, start = 1, self.at
        while depth:
            if self.peek() is None:
                raise CorefileError(f"line {opening.line}: the snippet's '{{' is never closed")
            token = self.next()
            depth += token.opens - token.closes
        self.snippets[keys[0].text[1:-1]] = self.tokens[start : self.at - 1]

    def body(self, opened: int) -> list[Directive]:
        found: list[Directive] = []
        while True:
            token = self.peek()
            if token is None:
                raise CorefileError(f"line {opened}: this '{{' is never closed")
            if token.closes:
                self.next()
                return found
            if token.opens:
                raise CorefileError(f"line {token.line}: a '{{' where a directive was expected")
            directive = self.directive()
            if directive is not None:
                found.append(directive)

    def until_end(self) -> list[Directive]:
        found: list[Directive] = []
        while (token := self.peek()) is not None:
            if token.closes or token.opens:
                raise CorefileError(f"line {token.line}: a stray {token.text!r}")
            directive = self.directive()
            if directive is not None:
                found.append(directive)
        return found

    def directive(self) -> Directive | None:
        """One directive and its block; None where `import snippet` was spliced in."""
        name = self.next()
        args: list[str] = []
        while (token := self.peek()) is not None and token.line == name.line:
            if token.closes:  # `health { lameduck 5s }` on one line: the block's end
                break
            self.next()
            if token.opens:
                block = self.body(token.line)
                return Directive(name.text, tuple(args), name.line, tuple(block), True)
            args.append(token.text)
        spliced = len(args) == 1 and args[0] in self.snippets
        if name.text == "import" and not name.quoted and spliced:
            self.splices += 1
            if self.splices > MAX_SPLICES:
                raise CorefileError(f"line {name.line}: snippet imports loop ({args[0]!r})")
            self.tokens[self.at : self.at] = self.snippets[args[0]]
            return None
        return Directive(name.text, tuple(args), name.line)


@dataclass(frozen=True, slots=True)
class Key:
    """A server block key, `[SCHEME://]ZONE[:PORT]`: `.:53`, `dns://cluster.local`."""

    scheme: str
    zone: str
    port: int

    @staticmethod
    def of(text: str) -> Key:
        scheme, sep, rest = text.partition("://")
        if not sep:
            scheme, rest = "dns", text
        zone, _, port = rest.rpartition(":") if ":" in rest else (rest, "", "")
        return Key(
            scheme.lower(), zone_name(zone or "."), int(port) if port.isdigit() else DNS_PORT
        )


def zone_name(text: str) -> str:
    """A zone as svcdns compares them: lower case, no final dot; the root is `.`."""
    name = text.strip().lower().rstrip(".")
    return name or "."


def is_reverse(zone: str) -> bool:
    """A reverse zone: under in-addr.arpa or ip6.arpa, or a CIDR (CoreDNS takes those)."""
    if "/" in zone:
        return True
    return any(zone == r or zone.endswith("." + r) for r in REVERSE)
