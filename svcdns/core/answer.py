"""The answerer: pure. (state, lower-case name, type) -> rcode and record sections.

No sockets, no clocks, no wire format. `None` means the name is outside the zones this
server is authoritative for, and the handler decides (forward or REFUSED). Section numbers
refer to the Kubernetes DNS-Based Service Discovery specification 1.1.0.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from svcdns import SPEC_VERSION
from svcdns.core.clusterset import MCS_SPEC_VERSION
from svcdns.core.index import RecordIndex
from svcdns.core.model import ServiceKind
from svcdns.core.names import undashed, under
from svcdns.core.rr import Rcode, Record, RRType, SOAData, SRVData
from svcdns.core.state import ClusterState
from svcdns.core.zonedata import PodMode, address_type
from svcdns.wire.soa import EXPIRE, MAX_SOA_TTL, REFRESH, RETRY

REVERSE_ZONES = ("in-addr.arpa", "ip6.arpa")
DNS_VERSION_TTL = 28800  # spec 2.2: the schema version record
MAX_CNAME_CHAIN = 8
_ADDRESS_TYPES = (RRType.A, RRType.AAAA)


@dataclass(frozen=True, slots=True)
class Answer:
    rcode: Rcode
    answer: tuple[Record, ...] = ()
    authority: tuple[Record, ...] = ()
    additional: tuple[Record, ...] = ()
    authoritative: bool = True


def soa(state: ClusterState, owner: str, zone: str = "") -> Record:
    """The SOA of a served zone (`zone`: the clusterset zone; else the cluster zone, whose
    names the reverse zones' SOA carry too); its own TTL is capped at 300 as CoreDNS does."""
    zone, ttl = zone or state.settings.zone, state.settings.ttl
    data = SOAData(
        mname=f"ns.dns.{zone}",
        rname=f"hostmaster.{zone}",
        serial=state.serial,
        refresh=REFRESH,
        retry=RETRY,
        expire=EXPIRE,
        minimum=ttl,
    )
    return Record(owner, RRType.SOA, min(ttl, MAX_SOA_TTL), data)


def answer(state: ClusterState, qname: str, qtype: int) -> Answer | None:
    """Answer one question; `qname` is lower-case without the trailing dot."""
    zone = state.settings.zone
    if under(qname, zone):
        result = _lookup(state, qname, qtype, chain=())
    elif under(qname, REVERSE_ZONES[0]) or under(qname, REVERSE_ZONES[1]):
        reverse = _reverse(state, qname, qtype)
        if reverse is None and state.synced:
            return None  # not an address of ours: like CoreDNS's `fallthrough in-addr.arpa`
        result = reverse or _negative(state, Rcode.NXDOMAIN)
    elif state.clusterset is not None and under(qname, state.clusterset.zone):
        result = _clusterset(state, state.clusterset, qname, qtype)
    else:
        return None
    if result.rcode == Rcode.NXDOMAIN and not state.synced:
        # Before the first full sync, "no such name" may be false, and a pod would cache it.
        return Answer(Rcode.SERVFAIL, authoritative=False)
    return result


def _reverse(state: ClusterState, qname: str, qtype: int) -> Answer | None:
    reverse_zone = REVERSE_ZONES[0] if under(qname, REVERSE_ZONES[0]) else REVERSE_ZONES[1]
    rrsets = state.index.rrsets.get(qname)
    if rrsets is None and state.clusterset is not None:
        # A clusterset IP or endpoint without a PTR of the cluster zone (MCS spec 2.3.3,
        # 2.4.3: the cluster zone's PTR, when there is one, stands).
        rrsets = state.clusterset.rrsets.get(qname)
    if rrsets is None:
        return None
    ptr = rrsets.get(RRType.PTR)
    if ptr and qtype in (RRType.PTR, RRType.ANY):
        return Answer(Rcode.NOERROR, answer=ptr)
    return Answer(Rcode.NOERROR, authority=(soa(state, reverse_zone),))


def _negative(state: ClusterState, rcode: Rcode) -> Answer:
    return Answer(rcode, authority=(soa(state, state.settings.zone),))


def _positive(state: ClusterState, records: tuple[Record, ...]) -> Answer:
    return Answer(Rcode.NOERROR, answer=records, additional=_additional(state, records))


def _lookup(state: ClusterState, name: str, qtype: int, *, chain: tuple[str, ...]) -> Answer:
    special = _special_name(state, name, qtype)
    if special is not None:
        return special
    rrsets = state.index.rrsets.get(name)
    if rrsets is None:
        return _negative(state, Rcode.NOERROR if state.index.exists(name) else Rcode.NXDOMAIN)
    cname = rrsets.get(RRType.CNAME)
    # ANY matches the CNAME itself, so it is not followed (RFC 1034 section 4.3.2).
    if cname and qtype not in (RRType.CNAME, RRType.ANY):
        return _follow_cname(state, cname, qtype, chain=(*chain, name))
    if qtype == RRType.ANY:
        return _positive(state, tuple(r for rrset in rrsets.values() for r in rrset))
    found = rrsets.get(qtype)
    return _positive(state, found) if found else _negative(state, Rcode.NOERROR)


def _follow_cname(
    state: ClusterState, cname: tuple[Record, ...], qtype: int, *, chain: tuple[str, ...]
) -> Answer:
    """ExternalName (spec 2.5): the CNAME, then the target's records when we serve it.

    The final rcode and authority are the target's (RFC 6604); a loop or a chain longer
    than MAX_CNAME_CHAIN stops with what was found.
    """
    target = str(cname[0].data).lower()
    if not under(target, state.settings.zone) or target in chain or len(chain) >= MAX_CNAME_CHAIN:
        return Answer(Rcode.NOERROR, answer=cname)
    rest = _lookup(state, target, qtype, chain=chain)
    return Answer(
        rest.rcode,
        answer=cname + rest.answer,
        authority=rest.authority,
        additional=rest.additional,
    )


def _special_name(state: ClusterState, name: str, qtype: int) -> Answer | None:
    """Names the zone has whatever the cluster holds; None for everything else."""
    zone = state.settings.zone
    if name == zone:
        wanted: dict[int, tuple[Record, ...]] = {
            RRType.SOA: (soa(state, zone),),
            RRType.NS: ns_records(state),
        }
        if qtype == RRType.ANY:
            return _positive(state, wanted[RRType.SOA] + wanted[RRType.NS])
        return _typed(state, wanted.get(qtype))
    relative = name[: -len(zone) - 1].split(".")
    if relative == ["dns-version"]:
        txt = Record(name, RRType.TXT, DNS_VERSION_TTL, SPEC_VERSION)
        return _typed(state, (txt,) if qtype in (RRType.TXT, RRType.ANY) else None)
    if relative == ["ns", "dns"]:
        addresses = nameserver_addresses(state)
        return _typed(state, _addresses(state, name, addresses, qtype))
    if relative in (["dns"], ["svc"], ["pod"]):
        return _negative(state, Rcode.NOERROR)
    if len(relative) == 2 and relative[1] in ("svc", "pod"):
        exists = state.namespace_exists(relative[0])
        return _negative(state, Rcode.NOERROR if exists else Rcode.NXDOMAIN)
    if relative[-1] == "pod":
        return _pod(state, name, relative, qtype)
    return None


def _clusterset(state: ClusterState, index: RecordIndex, name: str, qtype: int) -> Answer:
    """A name of the clusterset zone (MCS API DNS spec 1.0.0): its apex, `dns-version`
    (2.2), `ns.dns`, `svc` and `<ns>.svc` as the cluster zone's; the rest from its index,
    whose names hold no CNAME."""
    zone = index.zone
    negative = {
        code: Answer(code, authority=(soa(state, zone, zone),))
        for code in (Rcode.NOERROR, Rcode.NXDOMAIN)
    }
    fixed: dict[int, tuple[Record, ...]] = {}
    relative = name[: -len(zone) - 1].split(".") if name != zone else []
    if not relative:
        nameserver = Record(zone, RRType.NS, state.settings.ttl, f"ns.dns.{zone}")
        fixed = {RRType.SOA: (soa(state, zone, zone),), RRType.NS: (nameserver,)}
    elif relative == ["dns-version"]:
        fixed = {RRType.TXT: (Record(name, RRType.TXT, DNS_VERSION_TTL, MCS_SPEC_VERSION),)}
    elif relative == ["ns", "dns"]:
        addresses = _addresses(state, name, nameserver_addresses(state), RRType.ANY)
        fixed = {rtype: tuple(r for r in addresses if r.rtype == rtype) for rtype in _ADDRESS_TYPES}
    elif relative in (["dns"], ["svc"]):
        return negative[Rcode.NOERROR]
    elif len(relative) == 2 and relative[1] == "svc":
        return negative[Rcode.NOERROR if state.imports_in(relative[0]) else Rcode.NXDOMAIN]
    else:
        found = index.rrsets.get(name)
        if found is None:
            return negative[Rcode.NOERROR if index.exists(name) else Rcode.NXDOMAIN]
        fixed = dict(found)
    fixed = {rtype: rrs for rtype, rrs in fixed.items() if rrs}
    if qtype == RRType.ANY:
        records = tuple(r for rrs in fixed.values() for r in rrs)
    else:
        records = fixed.get(qtype, ())
    if not records:
        return negative[Rcode.NOERROR]
    return Answer(Rcode.NOERROR, answer=records, additional=_targets_in(state, index, records))


def _targets_in(
    state: ClusterState, index: RecordIndex, records: tuple[Record, ...]
) -> tuple[Record, ...]:
    """The addresses of SRV targets and the apex NS, found in the clusterset zone."""

    def addresses(record: Record, target: str) -> Iterable[Record]:
        if record.rtype == RRType.NS:
            return _addresses(state, target, nameserver_addresses(state), RRType.ANY)
        rrsets = index.rrsets.get(target) or {}
        return (found for rtype in _ADDRESS_TYPES for found in rrsets.get(rtype, ()))

    return _target_addresses(records, addresses)


def _typed(state: ClusterState, records: tuple[Record, ...] | None) -> Answer:
    return _positive(state, records) if records else _negative(state, Rcode.NOERROR)


def _pod(state: ClusterState, name: str, relative: list[str], qtype: int) -> Answer:
    """`a-b-c-d.<ns>.pod.<zone>` (spec is silent since 1.0; CoreDNS `pods` option)."""
    mode = state.settings.pods
    if len(relative) != 3 or mode is PodMode.DISABLED:
        return _negative(state, Rcode.NXDOMAIN)
    label, namespace = relative[0], relative[1]
    address = undashed(label)
    if address is None or not state.namespace_exists(namespace):
        return _negative(state, Rcode.NXDOMAIN)
    if mode is PodMode.VERIFIED and not state.pod_has_ip(namespace, address):
        return _negative(state, Rcode.NXDOMAIN)
    return _typed(state, _addresses(state, name, (address,), qtype))


def _addresses(
    state: ClusterState, name: str, addresses: tuple[str, ...], qtype: int
) -> tuple[Record, ...]:
    ttl = state.settings.ttl
    return tuple(
        Record(name, address_type(a), ttl, a)
        for a in addresses
        if qtype == RRType.ANY or address_type(a) == qtype
    )


def nameserver_addresses(state: ClusterState) -> tuple[str, ...]:
    kube_dns = state.service("kube-system", "kube-dns")
    if kube_dns is not None and kube_dns.kind is ServiceKind.CLUSTER_IP:
        return kube_dns.cluster_ips
    return state.settings.nameserver_addresses


def ns_records(state: ClusterState) -> tuple[Record, ...]:
    zone = state.settings.zone
    return (Record(zone, RRType.NS, state.settings.ttl, f"ns.dns.{zone}"),)


def _additional(state: ClusterState, records: tuple[Record, ...]) -> tuple[Record, ...]:
    """Addresses of SRV targets and of the apex NS (RFC 2782, RFC 1035 section 3.3.11)."""

    def addresses(record: Record, target: str) -> Iterable[Record]:
        return (
            found
            for rtype in _ADDRESS_TYPES
            for found in _lookup(state, target, rtype, chain=()).answer
        )

    return _target_addresses(records, addresses)


def _target_addresses(
    records: tuple[Record, ...], addresses: Callable[[Record, str], Iterable[Record]]
) -> tuple[Record, ...]:
    """The additional section of `records`: `addresses(record, target)` of each SRV target
    and NS name, in order, each record once."""
    extra: dict[Record, None] = {}
    for record in records:
        if isinstance(record.data, SRVData):
            target = record.data.target
        elif record.rtype == RRType.NS:
            target = str(record.data)
        else:
            continue
        extra.update(dict.fromkeys(addresses(record, target)))
    return tuple(extra)
