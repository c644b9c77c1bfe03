"""The record index: owner name -> RRsets, updated one Service at a time.

Several Services may own records at one name (two headless Services selecting the same
pod share its PTR owner), so each owner keeps per-Service contributions and a merged view
the answerer reads. Nothing here ever walks the whole zone. Imports only the core.
"""

from __future__ import annotations

from collections import Counter

from svcdns.core.names import under
from svcdns.core.rr import Record, RRset
from svcdns.core.zonedata import ServiceRecords

ServiceKey = tuple[str, str]  # (namespace, name)


class RecordIndex:
    def __init__(self, zone: str) -> None:
        self.zone = zone
        # Merged RRsets by lower-case owner name, then type: the answerer's lookup table.
        self.rrsets: dict[str, dict[int, RRset]] = {}
        self._by_service: dict[ServiceKey, ServiceRecords] = {}
        self._contributions: dict[str, dict[ServiceKey, tuple[Record, ...]]] = {}
        # Empty non-terminals inside the zone (`_tcp.web.shop.svc...`), reference-counted.
        self._interior: Counter[str] = Counter()

    def exists(self, name: str) -> bool:
        """Whether a name has records or records below it (RFC 4592 empty non-terminals)."""
        return name in self.rrsets or self._interior[name] > 0

    def set_service(self, key: ServiceKey, records: ServiceRecords) -> set[str]:
        """Replace one Service's records; return the owner names whose RRsets changed."""
        old = self._by_service.get(key, {})
        if old == records:
            return set()
        if records:
            self._by_service[key] = records
        else:
            self._by_service.pop(key, None)
        changed = {o for o in old.keys() | records.keys() if old.get(o) != records.get(o)}
        for owner in changed:
            contributions = self._contributions.setdefault(owner, {})
            if owner in records:
                contributions[key] = records[owner]
            else:
                contributions.pop(key, None)
            self._merge(owner)
        return changed

    def records(self) -> list[Record]:
        """Every stored record, sorted by name then type (for `svcdns records`)."""
        return [
            record
            for owner in sorted(self.rrsets, key=_sort_key)
            for rtype in sorted(self.rrsets[owner])
            for record in self.rrsets[owner][rtype]
        ]

    def _merge(self, owner: str) -> None:
        contributions = self._contributions[owner]
        if not contributions:
            del self._contributions[owner]
            if self.rrsets.pop(owner, None) is not None:
                self._count_interior(owner, -1)
            return
        merged: dict[int, dict[Record, None]] = {}
        for key in sorted(contributions):
            for record in contributions[key]:
                merged.setdefault(record.rtype, {})[record] = None
        if owner not in self.rrsets:
            self._count_interior(owner, +1)
        self.rrsets[owner] = {rtype: tuple(rrset) for rtype, rrset in merged.items()}

    def _count_interior(self, owner: str, step: int) -> None:
        if not under(owner, self.zone):
            return  # reverse names: only exact owners exist
        name = owner
        while True:
            name = name.partition(".")[2]
            if len(name) <= len(self.zone):
                return
            self._interior[name] += step
            if self._interior[name] <= 0:
                del self._interior[name]


def _sort_key(name: str) -> tuple[str, ...]:
    # Zone-file order: by labels from the root, so a name sits next to its parent.
    return tuple(reversed(name.split(".")))
