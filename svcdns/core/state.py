"""Cluster state: the slim objects, and the record index kept in step with them.

The single writer: sources feed `apply(event, now=...)`, which recomputes only the Service
an event touches and bumps the SOA serial only when something visible in DNS changed.
Whatever one Service holds costs that Service alone: a record DNS cannot carry is left out
with one line to `report` (a logger unless given). Pure otherwise: the time is an
argument. Imports only the core.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable

from svcdns.core.clusterset import import_zone
from svcdns.core.index import RecordIndex, ServiceKey
from svcdns.core.model import (
    EndpointSlice,
    Event,
    KubeObject,
    Namespace,
    ObjectKey,
    Pod,
    Service,
    ServiceImport,
    Upsert,
    key_of,
)
from svcdns.core.names import dashed
from svcdns.core.zonedata import PodMode, ZoneSettings, service_zone

# The state computes; what it leaves out is said here, and the face configures where to.
AMBIGUOUS = ""  # no namespace is named "": an IP that pods of several namespaces hold
log = logging.getLogger("svcdns.state")


class ClusterState:
    def __init__(
        self,
        settings: ZoneSettings,
        *,
        namespaces: frozenset[str] | None = None,
        report: Callable[[str], None] | None = None,
    ) -> None:
        self.settings = settings
        # Told, in one bounded line, what a Service leaves out of DNS and why.
        self.report: Callable[[str], None] = report or log.warning
        self._left_out: dict[ServiceKey, tuple[str, ...]] = {}
        self.index = RecordIndex(settings.zone, ttl=settings.ttl)
        # The clusterset zone's records (MCS API), an index of its own: its names are keyed
        # by ServiceImport, which may share a Service's namespace and name.
        self.clusterset: RecordIndex | None = None
        if settings.clusterset_zone:
            self.clusterset = RecordIndex(settings.clusterset_zone, ttl=settings.ttl)
        self.serial = 0  # Unix time of the last change visible in DNS
        self.synced = False
        self._only_namespaces = namespaces
        # Each kind in a table of its own, which the recompute reads: no table of all of
        # them beside (20,000 keys of a big cluster, 2 MB).
        self._services: dict[ServiceKey, Service] = {}
        # A Service's slices in the order they came (a tuple: most Services have one, and a
        # dict each would cost 10,000 x 200 bytes more).
        self._slices: dict[ServiceKey, tuple[EndpointSlice, ...]] = {}
        self._legacy: dict[ServiceKey, EndpointSlice] = {}
        self._slice_objects: dict[tuple[str, str], EndpointSlice] = {}  # by slice name
        # The clusterset's (MCS API): ServiceImports, and each one's multicluster slices,
        # never mixed with the Services and slices of the cluster zone.
        self._imports: dict[ServiceKey, ServiceImport] = {}
        self._import_slices: dict[ServiceKey, tuple[EndpointSlice, ...]] = {}
        self._imports_per_namespace: Counter[str] = Counter()
        self._pods: dict[tuple[str, str], Pod] = {}
        self._namespace_objects: set[str] = set()
        self._services_per_namespace: Counter[str] = Counter()
        # namespace -> pod IP -> number of pods holding it (`--pods verified`).
        self._pod_ips: dict[str, Counter[str]] = defaultdict(Counter)
        # pod IP -> the one namespace whose pods hold it, AMBIGUOUS when pods of several do
        # (an IP reused before the old pod's delete came): `--autopath` reads a client's
        # namespace here. Kept with `--pods verified` only, which autopath needs.
        self._ip_namespace: dict[str, str] = {}

    # -- reads (the answerer's view) --------------------------------------------------

    def namespace_exists(self, namespace: str) -> bool:
        if self._only_namespaces is not None and namespace not in self._only_namespaces:
            return False
        return namespace in self._namespace_objects or self._services_per_namespace[namespace] > 0

    def pod_has_ip(self, namespace: str, address: str) -> bool:
        pods = self._pod_ips.get(namespace)
        return bool(pods and pods[address] > 0)

    def pod_namespace(self, address: str) -> str | None:
        """The namespace of the pods holding `address`; None when no pod holds it, when pods
        of two namespaces do (which is current cannot be told: guess none), or without
        `--pods verified`."""
        namespace = self._ip_namespace.get(address)
        return namespace if namespace != AMBIGUOUS else None

    def service(self, namespace: str, name: str) -> Service | None:
        return self._services.get((namespace, name))

    def namespace_allowed(self, namespace: str) -> bool:
        """Not filtered out by --namespaces."""
        return self._only_namespaces is None or namespace in self._only_namespaces

    def service_names(self, namespace: str) -> list[str]:
        return [name for ns, name in self._services if ns == namespace]

    def service_import(self, namespace: str, name: str) -> ServiceImport | None:
        return self._imports.get((namespace, name))

    def imports_in(self, namespace: str) -> bool:
        """Whether `<namespace>.svc.<clusterset zone>` exists: a ServiceImport is in it."""
        return self._imports_per_namespace[namespace] > 0

    def import_slices_of(self, namespace: str, name: str) -> list[EndpointSlice]:
        """The multicluster EndpointSlices of a ServiceImport, every member cluster's."""
        return list(self._import_slices.get((namespace, name), ()))

    def slices_of(self, namespace: str, service: str) -> list[EndpointSlice]:
        """The endpoints DNS uses for a Service: its EndpointSlices, else legacy Endpoints."""
        slices = list(self._slices.get((namespace, service), ()))
        legacy = self._legacy.get((namespace, service))
        return slices or ([legacy] if legacy is not None else [])

    # -- writes -------------------------------------------------------------------------

    def reconfigure(self, settings: ZoneSettings, *, now: float) -> None:
        """New zone settings (a TTL, say): every Service is encoded again. The zone and the
        namespace filter are fixed for the life of the state."""
        self.settings = settings
        self.index.ttl = settings.ttl
        for key in list(self._services):
            self._recompute(key)
        if self.clusterset is not None:
            self.clusterset.ttl = settings.ttl
            for key in list(self._imports):
                self._recompute_import(key)
        self.serial = max(self.serial, int(now))

    def mark_synced(self) -> None:
        self.synced = True

    def apply(self, event: Event, *, now: float) -> set[str]:
        """Apply one upsert or delete; return the DNS names whose answers changed."""
        changed: set[str] = set()
        self._apply_events((event,), now=now, changed=changed)
        return changed

    def apply_all(self, events: Iterable[Event], *, now: float) -> bool:
        """Apply events in order, recomputing each Service they touch once, at the end (a
        page of 500 EndpointSlices, or a Service and its slice, costs one encode each).
        Whether anything visible in DNS changed; the names are not kept (a first load
        changes every one of them)."""
        return self._apply_events(events, now=now, changed=None)

    def _apply_events(
        self, events: Iterable[Event], *, now: float, changed: set[str] | None
    ) -> bool:
        any_change = False
        touched: dict[ServiceKey, None] = {}
        imports: dict[ServiceKey, None] = {}  # ServiceImports touched
        for event in events:
            if isinstance(event, Upsert):
                key, new = key_of(event.obj), event.obj
            else:
                key, new = event.key, None
            if not self._wanted(key):
                continue
            old = self._stored(key)
            if old == new:
                continue
            names = self._apply_change(old, new, touched)
            for obj in (old, new):
                import_key = None if obj is None else _import_key_of(obj)
                if import_key is not None:
                    imports[import_key] = None
            any_change |= bool(names)
            if changed is not None:
                changed |= names
        for service_key in touched:
            names = self._recompute(service_key)
            any_change |= bool(names)
            if changed is not None:
                changed |= names
        for import_key in imports:
            names = self._recompute_import(import_key)
            any_change |= bool(names)
            if changed is not None:
                changed |= names
        if any_change:
            self.serial = max(self.serial, int(now))
        return any_change

    def _stored(self, key: ObjectKey) -> KubeObject | None:
        """The object `key` names now, from its kind's table."""
        kind, where = key.kind, (key.namespace, key.name)
        if kind == "Service":
            return self._services.get(where)
        if kind == "EndpointSlice":
            return self._slice_objects.get(where)
        if kind == "Endpoints":
            return self._legacy.get(where)  # its Service's key: the same name
        if kind == "Pod":
            return self._pods.get(where)
        if kind == "ServiceImport":
            return self._imports.get(where)
        return Namespace(key.name) if key.name in self._namespace_objects else None

    def _wanted(self, key: ObjectKey) -> bool:
        if self._only_namespaces is None:
            return True
        namespace = key.name if key.kind == "Namespace" else key.namespace
        return namespace in self._only_namespaces

    def _apply_change(
        self, old: KubeObject | None, new: KubeObject | None, touched: dict[ServiceKey, None]
    ) -> set[str]:
        changed: set[str] = set()
        for obj, present in ((old, False), (new, True)):
            if obj is None:
                continue
            if isinstance(obj, Namespace):
                changed |= self._track_namespace(obj.name, present=present)
            elif isinstance(obj, Service):
                changed |= self._track_service(obj, present=present)
            elif isinstance(obj, EndpointSlice):
                self._track_slice(obj, present=present)
            elif isinstance(obj, ServiceImport):
                self._track_import(obj, present=present)
            else:
                changed |= self._track_pod(obj, present=present)
        # An EndpointSlice may move to another Service (label edit): recompute both.
        for obj in (old, new):
            service_key = None if obj is None else _service_key_of(obj)
            if service_key is not None:
                touched[service_key] = None
        return changed

    def _track_namespace(self, name: str, *, present: bool) -> set[str]:
        before = self.namespace_exists(name)
        (self._namespace_objects.add if present else self._namespace_objects.discard)(name)
        return self._namespace_names(name) if before != self.namespace_exists(name) else set()

    def _track_service(self, service: Service, *, present: bool) -> set[str]:
        before = self.namespace_exists(service.namespace)
        key = (service.namespace, service.name)
        if present:
            self._services[key] = service
            self._services_per_namespace[service.namespace] += 1
        else:
            self._services.pop(key, None)
            self._services_per_namespace[service.namespace] -= 1
            if self._services_per_namespace[service.namespace] <= 0:
                del self._services_per_namespace[service.namespace]
        if before != self.namespace_exists(service.namespace):
            return self._namespace_names(service.namespace)
        return set()

    def _track_import(self, service_import: ServiceImport, *, present: bool) -> None:
        key = (service_import.namespace, service_import.name)
        if present:
            self._imports[key] = service_import
            self._imports_per_namespace[service_import.namespace] += 1
        else:
            self._imports.pop(key, None)
            self._imports_per_namespace[service_import.namespace] -= 1
            if self._imports_per_namespace[service_import.namespace] <= 0:
                del self._imports_per_namespace[service_import.namespace]

    def _track_slice(self, endpoint_slice: EndpointSlice, *, present: bool) -> None:
        key = (endpoint_slice.namespace, endpoint_slice.service)
        if endpoint_slice.legacy:
            if present:
                self._legacy[key] = endpoint_slice
            else:
                self._legacy.pop(key, None)
            return
        table = self._import_slices if endpoint_slice.cluster else self._slices
        slices = table.get(key, ())
        name = endpoint_slice.name
        where = (endpoint_slice.namespace, name)
        kept = tuple(s for s in slices if s.name != name)
        if present:
            if len(kept) < len(slices):  # replaced where it was
                kept = tuple(endpoint_slice if s.name == name else s for s in slices)
            else:
                kept += (endpoint_slice,)
            self._slice_objects[where] = endpoint_slice
        else:
            self._slice_objects.pop(where, None)
        if kept:
            table[key] = kept
        else:
            table.pop(key, None)

    def _track_pod(self, pod: Pod, *, present: bool) -> set[str]:
        if present:
            self._pods[pod.namespace, pod.name] = pod
        else:
            self._pods.pop((pod.namespace, pod.name), None)
        ips = self._pod_ips[pod.namespace]
        changed = set()
        for ip in pod.ips:
            before = ips[ip] > 0
            ips[ip] += 1 if present else -1
            if ips[ip] <= 0:
                del ips[ip]
            if before != (ips[ip] > 0):
                changed.add(f"{dashed(ip)}.{pod.namespace}.pod.{self.settings.zone}")
                if self.settings.pods == PodMode.VERIFIED:
                    self._note_ip_owner(ip, pod.namespace, holds=not before)
        if not ips:
            del self._pod_ips[pod.namespace]
        # Only `--pods verified` answers depend on pods; otherwise nothing visible moved.
        return changed if self.settings.pods == PodMode.VERIFIED else set()

    def _note_ip_owner(self, ip: str, namespace: str, *, holds: bool) -> None:
        """Keep `_ip_namespace` in step when `namespace` starts or stops holding `ip`: O(1),
        but for an ambiguous IP losing a holder, which looks the holders up again."""
        owner = self._ip_namespace.get(ip)
        if holds:
            self._ip_namespace[ip] = namespace if owner in (None, namespace) else AMBIGUOUS
        elif owner == namespace:
            del self._ip_namespace[ip]
        elif owner == AMBIGUOUS:
            holders = [ns for ns, held in self._pod_ips.items() if held.get(ip, 0) > 0]
            self._ip_namespace[ip] = holders[0] if len(holders) == 1 else AMBIGUOUS

    def _namespace_names(self, namespace: str) -> set[str]:
        zone = self.settings.zone
        return {f"{namespace}.svc.{zone}", f"{namespace}.pod.{zone}"}

    def _recompute(self, key: ServiceKey) -> set[str]:
        service = self._services.get(key)
        if service is None:
            self._left_out.pop(key, None)
            return self.index.set_service(key, None)
        # Legacy Endpoints count only for a Service that has no EndpointSlice.
        slices = list(self._slices.get(key, ()))
        if not slices and key in self._legacy:
            slices = [self._legacy[key]]
        left_out: list[str] = []
        try:
            zone = service_zone(service, slices, self.settings)
            changed = self.index.set_service(key, zone, left_out)
        except Exception as error:  # whatever one Service holds must cost that Service only
            left_out = [f"every record: {type(error).__name__}: {str(error)[:200]}"]
            changed = self.index.set_service(key, None)
        self._note_left_out(key, tuple(left_out))
        return changed

    def _recompute_import(self, key: ServiceKey) -> set[str]:
        """A ServiceImport's records in the clusterset zone, as `_recompute` a Service's."""
        if self.clusterset is None:
            return set()
        service_import = self._imports.get(key)
        if service_import is None:
            return self.clusterset.set_service(key, None)
        slices = self._import_slices.get(key, ())
        left_out: list[str] = []
        try:
            zone = import_zone(service_import, slices, self.settings)
            changed = self.clusterset.set_service(key, zone, left_out)
        except Exception as error:  # whatever one import holds must cost that import only
            left_out = [f"every record: {type(error).__name__}: {str(error)[:200]}"]
            changed = self.clusterset.set_service(key, None)
        if left_out:
            self.report(
                f"ServiceImport {'/'.join(key)[:200]}: {len(left_out)} record(s) left out, "
                f"the rest served: {left_out[0][:300]}"
            )
        return changed

    def _note_left_out(self, key: ServiceKey, left_out: tuple[str, ...]) -> None:
        """One line per Service when what it leaves out changes, not on every recompute
        (a headless Service recomputes on each endpoint change)."""
        if self._left_out.get(key, ()) == left_out:
            return
        if not left_out:
            del self._left_out[key]
            return
        self._left_out[key] = left_out
        more = f" (and {len(left_out) - 1} more)" if len(left_out) > 1 else ""
        self.report(
            f"Service {'/'.join(key)[:200]}: {len(left_out)} record(s) left out, the rest "
            f"served: {left_out[0][:300]}{more}"
        )


def _service_key_of(obj: KubeObject) -> ServiceKey | None:
    if isinstance(obj, Service):
        return (obj.namespace, obj.name)
    if isinstance(obj, EndpointSlice) and not obj.cluster:  # not a ServiceImport's
        return (obj.namespace, obj.service)
    return None


def _import_key_of(obj: KubeObject) -> ServiceKey | None:
    if isinstance(obj, ServiceImport):
        return (obj.namespace, obj.name)
    if isinstance(obj, EndpointSlice) and obj.cluster:
        return (obj.namespace, obj.service)
    return None
