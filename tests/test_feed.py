"""What the start-up warning says it waits for (issue 15: it once said `waiting for `)."""

from svcdns.feed import _waiting_for


def test_the_kinds_not_listed_yet_are_named() -> None:
    assert _waiting_for(["endpointslices", "services"], 0) == "endpointslices, services"


def test_lists_done_but_not_applied_say_so() -> None:
    assert _waiting_for([], 12) == "12 listed batch(es) still being applied"
    assert _waiting_for([], 0) == "the last sync step"
