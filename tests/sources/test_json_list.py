"""manifestfiles.ListText: a JSON list's items decoded one at a time through a window of
the text give what json.loads gives, whatever the window's size, and a broken text the
same error, at the same line and column."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from svcdns.sources.manifestfiles import ListText, NotAList

ITEMS = [
    {"kind": "Service", "metadata": {"name": "wéb", "namespace": "shop"}, "n": 12345},
    {"kind": "Pod", "s": 'a "quoted" \\ back\\slash \u2603 \U0001f600', "f": -1.5e-7},
    {"kind": "EndpointSlice", "e": [[], {}, [1, [2, [3]]], True, False, None, 0]},
    {"no": "kind"},
    7,
]
TEXTS = {
    "compact": json.dumps({"apiVersion": "v1", "items": ITEMS, "kind": "List"}),
    "indented": json.dumps({"kind": "ServiceList", "items": ITEMS, "metadata": {}}, indent=4),
    "ascii": json.dumps({"items": ITEMS, "apiVersion": 5}, ensure_ascii=True),
    "two-lists": '{"items": [1, 2], "kind": "List", "items": [3]}',
    "empty": ' {"items": [ ], "kind" : "List" } \n',
    "no-items": '{"kind": "Namespace", "metadata": {"name": "x"}}',
    "empty-object": "{}",
}


class Pairs(list[tuple[str, Any]]):
    """An object's members in order, duplicates kept (json.loads' object_pairs_hook)."""


def plain(value: Any) -> Any:
    if isinstance(value, Pairs):
        return {key: plain(member) for key, member in value}
    return [plain(member) for member in value] if isinstance(value, list) else value


def read(text: str, chunk: int) -> tuple[list[Any], dict[str, Any]]:
    found = ListText(io.BytesIO(text.encode()), chunk=chunk)
    return list(found.items()), found.head


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 7, 16, 4096])
@pytest.mark.parametrize("name", list(TEXTS))
def test_the_items_and_head_are_json_loads_ones(name: str, chunk: int) -> None:
    text = TEXTS[name]
    items, head = read(text, chunk)
    members = json.loads(text, object_pairs_hook=Pairs)
    assert items == [plain(item) for key, found in members if key == "items" for item in found]
    assert head == {key: plain(value) for key, value in members if key != "items"}


BROKEN = {
    "truncated": TEXTS["indented"][:-40],
    "cut-in-a-string": TEXTS["compact"][:60],
    "bad-value": TEXTS["indented"].replace("true", "ture"),
    "missing-comma": TEXTS["compact"].replace("}, {", "} {", 1),
    "missing-colon": '{"items" [1]}',
    "key-not-a-string": '{"items": [1], 5: 2}',
    "extra-data": TEXTS["compact"] + " {}",
    "bad-escape": '{"items": ["a\\qb"]}',
    "after-wide-characters": '{"items": ["\u00e9\u00e9\u2603",\n "\U0001f600\u00e9", tru]}',
}


@pytest.mark.parametrize("chunk", [1, 3, 7, 4096])
@pytest.mark.parametrize("name", list(BROKEN))
def test_a_broken_text_is_json_loads_error_at_the_same_place(name: str, chunk: int) -> None:
    text = BROKEN[name]
    with pytest.raises(json.JSONDecodeError) as expected:
        json.loads(text)
    with pytest.raises(json.JSONDecodeError) as found:
        read(text, chunk)
    assert str(found.value) == str(expected.value)


@pytest.mark.parametrize("text", ["[1, 2]", "", "5", '\ufeff{"items": []}', "  nul"])
def test_anything_but_one_object_is_not_a_list_before_any_item(text: str) -> None:
    with pytest.raises(NotAList):
        read(text, 4096)
