"""Label and field selectors, parsed with the grammar and error messages of
k8s.io/apimachinery (pkg/labels, pkg/fields), and matched against stored objects.

A SelectorError's message is what the 400 Status says. Imports only `kinds`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .kinds import Kind

# -- label selectors (k8s.io/apimachinery/pkg/labels, same grammar and error messages) ------

_SELECTOR_SPECIAL = "=!(),><"
_SELECTOR_SPACE = " \t\r\n"
_BINARY_OPERATORS = "in, notin, =, ==, !=, gt, lt"


class SelectorError(ValueError):
    pass


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: str  # = == != in notin exists ! gt lt
    values: tuple[str, ...]

    def matches(self, labels: dict[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.operator in ("=", "==", "in"):
            return present and value in self.values
        if self.operator in ("!=", "notin"):
            return not present or value not in self.values
        if self.operator == "exists":
            return present
        if self.operator == "!":
            return not present
        try:
            number = int(str(value))
        except ValueError:
            return False
        limit = int(self.values[0])
        return present and (number > limit if self.operator == "gt" else number < limit)


def _lex_selector(text: str) -> list[tuple[str, str]]:
    """Tokens as (type, literal); types: ID, in, notin, the symbols, and EOS."""
    tokens: list[tuple[str, str]] = []
    i = 0
    while True:
        while i < len(text) and text[i] in _SELECTOR_SPACE:
            i += 1
        if i >= len(text):
            tokens.append(("EOS", ""))
            return tokens
        if text[i] in _SELECTOR_SPECIAL:
            symbol = text[i : i + 2] if text[i : i + 2] in ("!=", "==") else text[i]
            tokens.append((symbol, symbol))
            i += len(symbol)
            continue
        j = i
        while j < len(text) and text[j] not in _SELECTOR_SPACE + _SELECTOR_SPECIAL:
            j += 1
        word = text[i:j]
        tokens.append((word if word in ("in", "notin") else "ID", word))
        i = j


class _SelectorParser:
    def __init__(self, text: str) -> None:
        self.tokens = _lex_selector(text)
        self.position = 0

    def lookahead(self, values: bool = True) -> tuple[str, str]:
        kind, literal = self.tokens[self.position]
        return ("ID" if values and kind in ("in", "notin") else kind), literal

    def consume(self, values: bool = True) -> tuple[str, str]:
        token = self.lookahead(values)
        self.position = min(self.position + 1, len(self.tokens) - 1)
        return token

    def parse(self) -> list[Requirement]:
        requirements: list[Requirement] = []
        while True:
            kind, literal = self.lookahead()
            if kind in ("ID", "!"):
                try:
                    requirements.append(self.requirement())
                except SelectorError as error:
                    raise SelectorError(f"unable to parse requirement: {error}") from None
                kind, literal = self.consume()
                if kind == "EOS":
                    return requirements
                if kind != ",":
                    raise SelectorError(f"found '{literal}', expected: ',' or 'end of string'")
                kind, literal = self.lookahead()
                if kind not in ("ID", "!"):
                    raise SelectorError(f"found '{literal}', expected: identifier after ','")
            elif kind == "EOS":
                return requirements
            else:
                raise SelectorError(
                    f"found '{literal}', expected: !, identifier, or 'end of string'"
                )

    def requirement(self) -> Requirement:
        operator = ""
        kind, literal = self.consume()
        if kind == "!":
            operator = "!"
            kind, literal = self.consume()
        if kind != "ID":
            raise SelectorError(f"found '{literal}', expected: identifier")
        key = literal
        if operator == "!" or self.lookahead()[0] in ("EOS", ","):
            return Requirement(key, operator or "exists", ())
        kind, literal = self.consume(values=False)
        operators = {"in": "in", "notin": "notin", "=": "=", "==": "==", "!=": "!="}
        operators |= {">": "gt", "<": "lt"}
        if kind not in operators:
            raise SelectorError(f"found '{literal}', expected: {_BINARY_OPERATORS}")
        operator = operators[kind]
        values = self.value_set() if operator in ("in", "notin") else self.exact_value()
        if operator in ("gt", "lt"):
            try:
                int(values[0])
            except ValueError:
                raise SelectorError(
                    f"values[0]: Invalid value: {values[0]!r}: for 'Gt', 'Lt' operators, "
                    "the value must be an integer"
                ) from None
        return Requirement(key, operator, values)

    def exact_value(self) -> tuple[str, ...]:
        if self.lookahead()[0] in ("EOS", ","):
            return ("",)
        kind, literal = self.consume()
        if kind != "ID":
            raise SelectorError(f"found '{literal}', expected: identifier")
        return (literal,)

    def value_set(self) -> tuple[str, ...]:
        kind, literal = self.consume()
        if kind != "(":
            raise SelectorError(f"found '{literal}' expected: '('")
        kind, literal = self.lookahead()
        if kind == ")":
            self.consume()
            return ("",)
        if kind not in ("ID", ","):
            raise SelectorError(f"found '{literal}', expected: ',', ')' or identifier")
        values: list[str] = []
        while True:
            kind, literal = self.consume()
            if kind == "ID":
                values.append(literal)
                following, following_literal = self.lookahead()
                if following == ")":
                    break
                if following != ",":
                    raise SelectorError(f"found '{following_literal}', expected: ',' or ')'")
            elif kind == ",":
                if not values:
                    values.append("")
                following = self.lookahead()[0]
                if following == ")":
                    values.append("")
                    break
                if following == ",":
                    self.consume()
                    values.append("")
            else:
                raise SelectorError(f"found '{literal}', expected: ',', or identifier")
        kind, literal = self.consume()
        if kind != ")":
            raise SelectorError(f"found '{literal}', expected: ')'")
        return tuple(dict.fromkeys(values))


def parse_label_selector(text: str) -> list[Requirement]:
    return _SelectorParser(text).parse()


# -- field selectors (k8s.io/apimachinery/pkg/fields) -----------------------------------


@dataclass(frozen=True)
class FieldTerm:
    field: str
    negated: bool
    value: str

    def matches(self, obj: dict[str, Any]) -> bool:
        return (_field_value(obj, self.field) == self.value) != self.negated


def _split_unescaped(text: str, separator: str) -> list[str]:
    parts, current, escaped = [], [], False
    for char in text:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            current.append(char)
            escaped = True
        elif char == separator:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def _unescape_field_value(value: str) -> str:
    out, escaped = [], False
    for char in value:
        if escaped:
            if char not in "\\,=":
                raise SelectorError(f"invalid field selector: invalid escape sequence: \\{char}")
            out.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char in ",=":
            raise SelectorError(f"invalid field selector: unescaped {char!r} in value")
        else:
            out.append(char)
    if escaped:
        raise SelectorError("invalid field selector: unterminated escape sequence")
    return "".join(out)


def parse_field_selector(text: str, kind: Kind) -> list[FieldTerm]:
    terms: list[FieldTerm] = []
    for part in sorted(_split_unescaped(text, ",")):
        if not part:
            continue
        for i in range(len(part)):
            operator = next((op for op in ("!=", "==", "=") if part.startswith(op, i)), None)
            if operator is not None:
                field_name, value = part[:i], part[i + len(operator) :]
                terms.append(FieldTerm(field_name, operator == "!=", _unescape_field_value(value)))
                break
        else:
            raise SelectorError(f"invalid selector: '{text}'; can't understand '{part}'")
    for term in terms:
        if term.field not in kind.field_labels:
            raise SelectorError(f"field label not supported: {term.field}")
    return terms


def _field_value(obj: dict[str, Any], path: str) -> str:
    value: Any = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parse_selectors(kind: Kind, query: dict[str, str]) -> tuple[list[Requirement], list[FieldTerm]]:
    """The labelSelector and fieldSelector of a list or watch query (SelectorError if bad)."""
    return (
        parse_label_selector(query.get("labelSelector", "")),
        parse_field_selector(query.get("fieldSelector", ""), kind),
    )
