"""ForwardCache bounds: entries and bytes, and what an entry really costs (tracemalloc)."""

from __future__ import annotations

import tracemalloc

import dns.message
import dns.name
import dns.rrset

from svcdns.net.cache import ENTRY_OVERHEAD, ForwardCache, served_body


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


def rotated_answer(name: str) -> tuple[bytes, bytes]:
    """A CNAME, then three A records of its target (owners: pointers to the CNAME's data),
    then two AAAA: what an upstream sends for a name behind a CDN alias."""
    name = name.rstrip(".") + "."
    target = "edge." + name
    query = dns.message.make_query(name, "A")
    reply = dns.message.make_response(query)
    reply.answer.append(dns.rrset.from_text(name, 30, "IN", "CNAME", target))
    reply.answer.append(dns.rrset.from_text(target, 30, "IN", "A", *A_ADDRESSES))
    reply.answer.append(dns.rrset.from_text(target, 30, "IN", "AAAA", "fd00::1", "fd00::2"))
    wire = reply.to_wire()
    question_end = 12 + len(dns.name.from_text(name).to_wire()) + 4
    return wire[12:question_end], wire


A_ADDRESSES = ["192.0.2.1", "192.0.2.2", "192.0.2.3"]


def served(cache: ForwardCache, question: bytes, reply: bytes, now: float) -> dns.message.Message:
    entry = cache.get(question, now)
    assert entry is not None
    wire = reply[: 12 + len(question)] + served_body(entry, now)
    return dns.message.from_wire(wire)


def test_cached_address_rrsets_are_served_rotated_by_one_record_each_time() -> None:
    """CoreDNS's `loadbalance` sits before its cache: cached answers turn too (issue 13)."""
    cache = ForwardCache()
    question, reply = rotated_answer("cdn.example.com")
    cache.put(question, reply, now=0.0)
    sent = [rd.address for rd in dns.message.from_wire(reply).answer[1]]  # the upstream's order
    sent_v6 = [rd.address for rd in dns.message.from_wire(reply).answer[2]]
    assert sorted(sent) == A_ADDRESSES
    seen = []
    for turn in range(4):
        message = served(cache, question, reply, now=2.0)  # TTLs counted down as well
        cname, a, aaaa = message.answer
        assert cname.ttl == a.ttl == aaaa.ttl == 28
        addresses = [rd.address for rd in a]
        start = turn % 3
        assert addresses == sent[start:] + sent[:start]
        seen.append(next(rd.address for rd in aaaa))
    assert seen == [*sent_v6, *sent_v6]


def test_rotation_can_be_turned_off_and_leaves_single_records_alone() -> None:
    still = ForwardCache(rotate=False)
    question, reply = rotated_answer("cdn.example.com")
    still.put(question, reply, now=0.0)
    sent = tuple(rd.address for rd in dns.message.from_wire(reply).answer[1])
    orders = {tuple(rd.address for rd in served(still, question, reply, 0.0).answer[1])}
    orders |= {tuple(rd.address for rd in served(still, question, reply, 0.0).answer[1])}
    assert orders == {sent}
    single = ForwardCache()
    question, reply = answer("one.example.com", 1)
    entry = single.put(question, reply, now=0.0)
    assert entry is not None and entry.runs == () and entry.served is None
