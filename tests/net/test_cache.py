"""ForwardCache bounds: entries and bytes, and what an entry really costs (tracemalloc)."""

from __future__ import annotations

import tracemalloc

import dns.message
import dns.name
import dns.rrset

from svcdns.net.cache import ENTRY_OVERHEAD, ForwardCache


def answer(name: str, records: int, text_size: int = 0) -> tuple[bytes, bytes]:
    """(question bytes, reply) for `records` A records, or TXT records of `text_size`."""
    name = name.rstrip(".") + "."
    query = dns.message.make_query(name, "TXT" if text_size else "A")
    reply = dns.message.make_response(query)
    if text_size:
        strings = text_size // 256  # character-strings of 255 bytes, distinct records
        data = [" ".join(f'"{i:03d}{"x" * 252}"' for _ in range(strings)) for i in range(records)]
        reply.answer.append(dns.rrset.from_text(name, 30, "IN", "TXT", *data))
    else:
        ips = [f"10.0.{i // 256}.{i % 256}" for i in range(records)]
        reply.answer.append(dns.rrset.from_text(name, 30, "IN", "A", *ips))
    wire = reply.to_wire(max_size=65535)
    question_end = 12 + len(dns.name.from_text(name).to_wire()) + 4
    return wire[12:question_end], wire


def test_the_byte_bound_evicts_least_recently_used_first() -> None:
    cache = ForwardCache(size=10_000, max_bytes=1024 * 1024)
    for number in range(200):  # 200 answers of about 16 KB: 3 MB offered
        question, reply = answer(f"big{number}.example.com", 4, text_size=4096)
        assert cache.put(question, reply, now=0.0) is not None
        assert cache.bytes <= cache.max_bytes
    assert 50 <= len(cache) <= 64
    question, _ = answer("big199.example.com", 4, text_size=4096)
    assert cache.get(question, now=1.0) is not None  # the newest stays
    question, _ = answer("big0.example.com", 4, text_size=4096)
    assert cache.get(question, now=1.0) is None  # the oldest went
    assert cache.evictions == 200 - len(cache)


def test_replacing_an_entry_does_not_count_it_twice() -> None:
    cache = ForwardCache()
    question, reply = answer("same.example.com", 3)
    for _ in range(100):
        cache.put(question, reply, now=0.0)
    assert len(cache) == 1
    cost = cache.bytes
    cache.put(question, reply, now=0.0)
    assert cache.bytes == cost


def test_the_counted_bytes_are_what_the_entries_really_take() -> None:
    """The byte bound is a real figure: the count is never less than tracemalloc sees,
    give or take a fifth (one to three A records: what most forwarded answers hold)."""
    answers = [answer(f"name{n}.example.com", 1 + n % 3) for n in range(5000)]
    cache = ForwardCache(size=10_000)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for question, reply in answers:
        cache.put(question, reply, now=0.0)
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert len(cache) == 5000
    print(f"\n{used / 5000:.0f} B an entry traced, {cache.bytes / 5000:.0f} B counted")
    assert used <= cache.bytes * 1.2
    assert cache.bytes <= used * 1.5 + 5000 * ENTRY_OVERHEAD * 0.1
