"""Ask svcdns and a real CoreDNS the same questions about one cluster; report the differences.

    python bench/coredns_compare.py --coredns /tmp/coredns/coredns [--out DIR]
        [--tcp-every N] [--workers N] [--seed N] [--svcdns-root DIR]

All on 127.0.0.1 and free ports; every process it starts is stopped by its PID at the end,
whatever happens. About 30 s on 2 cores for 17,000 questions. Not part of the pytest suite
(CI has no CoreDNS binary). `--svcdns-root DIR` runs `python -m svcdns` from DIR (a `git
archive` of a commit, say) instead of this checkout.

1. The cluster (SERVICES, cluster()): every kind of Service and EndpointSlice, Pods, an
   empty Namespace, served by bench/fakeapi's FakeApiServer with TLS (client-go, in CoreDNS,
   sends the kubeconfig's token only over TLS; the fake refuses anonymous requests).
2. A tiny upstream (UDP and TCP) answers a few outside names as a recursive resolver would.
   CoreDNS runs a kubeadm-like Corefile (`kubernetes cluster.local in-addr.arpa ip6.arpa {
   pods insecure; fallthrough in-addr.arpa ip6.arpa; ttl 30 }`, `forward` to the upstream,
   `loadbalance`), svcdns `serve` the same settings; both `/ready` are polled. No caches
   (no `cache` plugin, svcdns `--cache-size 0`): both forward every outside name, and
   TTLs compare instead of counting down (kubeadm's Corefile disables its `cache 30` for
   cluster.local anyway). CoreDNS names itself (`ns.dns`, the apex NS) by its non-loopback
   listen addresses among the kube-dns endpoints; bound to 127.0.0.1 it has none, so it
   answers those NODATA here: an artefact of the harness, not a difference.
3. Questions (names()): every name either server could serve and the misses a pod's
   resolver makes around them, x 10 types, x 3 variants (no EDNS; EDNS0 with the name in
   random letter case; EDNS0 with DO), and an A question in class CH; all over UDP, every
   `--tcp-every`-th also over TCP.
4. differences(): the rcode and answer RRsets (as sets, SOA serials masked), else flags,
   else authority, else additional; and, on their own, OPT, DO, TTLs and letter case. A
   class key names the kind of name (not for the independent aspects), the aspect and both
   outcomes: `reverse: answer: svcdns NODATA, coredns NXDOMAIN`. The table (count, class,
   types, variants and kinds seen, one example with both replies) goes to stdout, every
   question with both replies to DIR/coredns_compare.json.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import random
import signal
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.reversename
import dns.rrset
from fakeapi import FakeApiServer  # bench/fakeapi, beside this file
from processes import free_port

REPO = Path(__file__).resolve().parent.parent

ZONE = "cluster.local"
TTL = 30
TYPES = ("A", "AAAA", "SRV", "PTR", "CNAME", "TXT", "SOA", "NS", "ANY", "MX")
VARIANTS = ("plain", "edns", "do", "class-ch")  # the last: one A question per name
INDEPENDENT = ("opt", "do-bit", "letter-case", "class-ch")  # class keys without the kind of name
CASE = "svcdns.test/case"  # a Service label naming its kind, for the class keys
LONG_PORT = ("prometheus-metrics-exporter-" * 3)[:63]  # 63 octets; `_` + it makes 64

# -- the cluster ------------------------------------------------------------------------------


def port(name: str, number: int, protocol: str = "TCP", target: int = 0) -> dict[str, Any]:
    return ({"name": name} if name else {}) | {
        "port": number,
        "protocol": protocol,
        "targetPort": target or number,
    }


def ep(address: str, pod: str = "", *, hostname: str = "", ready: bool = True,
       serving: bool | None = None, node: str = "node-1") -> dict[str, Any]:  # fmt: skip
    """An EndpointSlice endpoint; its Pod (targetRef) gets its namespace in cluster()."""
    serving = ready if serving is None else serving
    entry: dict[str, Any] = {
        "addresses": [address],
        "conditions": {"ready": ready, "serving": serving, "terminating": False},
        "nodeName": node,
        "zone": "zone-a",
    }
    if hostname:
        entry["hostname"] = hostname
    if pod:
        entry["targetRef"] = {"kind": "Pod", "name": pod}
    return entry


WEB = [port("http", 80, target=8080), port("grpc", 9090), port("dns", 53, "UDP", 5353)]
WEB += [port("dns-tcp", 53, "TCP", 5353)]
HTTP = [port("http", 80, target=8080)]
NODE = [port("", 80, target=8080) | {"nodePort": 30080}]
LB = [port("https", 443, target=8443) | {"nodePort": 31443}]
GOSSIP = [port("gossip", 7946), port("gossip-udp", 7946, "UDP")]
LONG = [port(LONG_PORT, 8080), port("http", 80)]
TELECOM = [port("diameter", 3868, "SCTP"), port("syslog", 514, "UDP")]
KUBE_DNS = [port("dns", 53, "UDP"), port("dns-tcp", 53), port("metrics", 9153)]
EXTERNAL = {"type": "ExternalName"}
# (namespace, name, kind label, ClusterIPs (none: headless), ports, spec fields,
#  EndpointSlices as (addressType, endpoints, ports; None: the Service's))
SERVICES: list[tuple[str, str, str, list[str], list[Any], dict[str, Any], list[Any]]] = [
    ("shop", "web", "clusterip", ["10.96.10.1"], WEB, {}, [("IPv4", [ep("10.244.1.10", "web-a"),
     ep("10.244.2.11", "web-b", node="node-2"), ep("10.244.1.12", "web-c", ready=False)], None)]),
    ("shop", "dual", "dual-stack", ["10.96.10.2", "fd00:10:96::a2"], HTTP, {}, [
     ("IPv4", [ep("10.244.1.20", "dual-0")], None),
     ("IPv6", [ep("fd00:10:244:1::20", "dual-0")], None)]),
    ("shop", "v6only", "ipv6-only", ["fd00:10:96::a3"], HTTP, {}, [
     ("IPv6", [ep("fd00:10:244:2::30", "v6-0")], None)]),
    ("shop", "nodeport", "nodeport", ["10.96.10.4"], NODE, {"type": "NodePort"}, [
     ("IPv4", [ep("10.244.2.40", "np-0")], None)]),
    ("shop", "lb", "loadbalancer", ["10.96.10.5"], LB, {"type": "LoadBalancer"}, [
     ("IPv4", [ep("10.244.1.50", "lb-0")], None)]),
    ("shop", "db", "headless-hostnames", [], [port("mysql", 3306)], {}, [("IPv4", [
     ep("10.244.1.60", "db-0", hostname="db-0"), ep("10.244.2.61", "db-1", hostname="db-1"),
     ep("10.244.1.62", "db-2", hostname="db-2", ready=False)], None)]),
    ("shop", "cache", "headless-dashed", [], [port("redis", 6379)],
     {"ipFamilies": ["IPv4", "IPv6"], "ipFamilyPolicy": "RequireDualStack"}, [
     ("IPv4", [ep("10.244.1.70", "cache-a"), ep("10.244.2.71", "cache-b")], None),
     ("IPv6", [ep("fd00:10:244:1::70", "cache-a")], None)]),
    ("shop", "pending", "headless-not-ready", [], HTTP, {}, [("IPv4", [
     ep("10.244.2.80", "pending-0", ready=False), ep("10.244.1.81", "pending-1", ready=False)],
     None)]),
    # publishNotReadyAddresses: the EndpointSlice controller marks every endpoint ready and
    # only unready pods not serving (discovery.k8s.io/v1 EndpointConditions).
    ("shop", "peers", "headless-publish-not-ready", [], GOSSIP, {"publishNotReadyAddresses":
     True}, [("IPv4", [ep("10.244.1.90", "peers-0", hostname="peers-0", serving=False),
     ep("10.244.2.91", "peers-1", hostname="peers-1")], None)]),
    ("shop", "split", "headless-two-slices", [], [*HTTP, port("metrics", 9100)], {}, [
     ("IPv4", [ep("10.244.1.100", "split-0"), ep("10.244.2.101", "split-1")], HTTP),
     ("IPv4", [ep("10.244.1.100", "split-0")], [port("metrics", 9100)])]),
    ("shop", "long", "long-port-name", ["10.96.10.11"], LONG, {}, [
     ("IPv4", [ep("10.244.2.110", "long-0")], None)]),
    ("shop", "telecom", "sctp-udp", ["10.96.10.12"], TELECOM, {}, [
     ("IPv4", [ep("10.244.1.120", "telecom-0")], None)]),
    ("shop", "ext-out", "externalname-out", [], [], EXTERNAL | {"externalName":
     "db.example.org"}, []),
    ("shop", "ext-in", "externalname-in", [], [], EXTERNAL | {"externalName":
     f"web.shop.svc.{ZONE}"}, []),
    ("shop", "ext-ip", "externalname-ip", [], [], EXTERNAL | {"externalName": "192.0.2.44"}, []),
    ("shop", "fqdn", "fqdn-slice", [], HTTP, {"selector": None}, [
     ("FQDN", [{"addresses": ["backend.example.org"], "conditions": {"ready": True}}], None)]),
    ("shop", "idle", "no-endpoints", ["10.96.10.16"], HTTP, {}, [("IPv4", [], None)]),
    ("data", "pg", "headless-hostnames", [], [port("postgres", 5432)], {}, [("IPv4", [
     ep("10.244.3.10", "pg-0", hostname="pg-0"), ep("10.244.3.11", "pg-1", hostname="pg-1")],
     None)]),
    ("data", "api", "clusterip", ["10.96.20.1"], HTTP, {}, [
     ("IPv4", [ep("10.244.3.20", "api-a"), ep("10.244.3.21", "api-b")], None)]),
    ("kube-system", "kube-dns", "clusterip", ["10.96.0.10"], KUBE_DNS, {}, [
     ("IPv4", [ep("10.244.0.2", "coredns-a"), ep("10.244.0.3", "coredns-b")], None)]),
    ("default", "kubernetes", "clusterip", ["10.96.0.1"], [port("https", 443, target=6443)],
     {"selector": None}, [("IPv4", [ep("172.18.0.2", node="control-plane")], None)]),
]  # fmt: skip


def service(ns: str, name: str, case: str, ips: list[str], ports: list[Any],
            fields: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    """A Service as the API returns it, with the defaults the apiserver fills in."""
    spec: dict[str, Any] = {"sessionAffinity": "None"}
    if fields.get("type") != "ExternalName":
        spec |= {"type": "ClusterIP", "clusterIP": ips[0] if ips else "None",
                 "clusterIPs": ips or ["None"], "ports": ports, "selector": {"app": name},
                 "ipFamilies": ["IPv6" if ":" in ip else "IPv4" for ip in ips] or ["IPv4"],
                 "ipFamilyPolicy": "RequireDualStack" if len(ips) > 1 else "SingleStack",
                 "internalTrafficPolicy": "Cluster"}  # fmt: skip
    spec |= fields
    if spec.get("type") in ("NodePort", "LoadBalancer"):
        spec["externalTrafficPolicy"] = "Cluster"
    if spec.get("selector", 0) is None:
        del spec["selector"]  # selectorless: the key is absent
    ingress = [{"ip": "203.0.113.5", "ipMode": "VIP"}] if spec["type"] == "LoadBalancer" else []
    metadata = {"name": name, "namespace": ns, "labels": {"app": name, CASE: case}}
    status = {"loadBalancer": {"ingress": ingress} if ingress else {}}
    return {"apiVersion": "v1", "kind": "Service", "metadata": metadata, "spec": spec,
            "status": status}  # fmt: skip


def endpoint_slice(ns: str, svc: str, index: int, family: str, endpoints: list[Any],
                   ports: list[Any]) -> dict[str, Any]:  # fmt: skip
    managed = "endpointslice-controller.k8s.io"
    labels = {"kubernetes.io/service-name": svc, "endpointslice.kubernetes.io/managed-by": managed}
    owner = {"apiVersion": "v1", "kind": "Service", "name": svc}
    metadata = {"name": f"{svc}-{index:05x}", "generateName": f"{svc}-", "namespace": ns,
                "labels": labels, "ownerReferences": [owner]}  # fmt: skip
    slice_ports = [{"name": p.get("name", ""), "port": p["targetPort"], "protocol": p["protocol"]}
                   for p in ports]  # fmt: skip
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": metadata,
            "addressType": family, "endpoints": endpoints or None,
            "ports": slice_ports}  # fmt: skip


def cluster() -> list[dict[str, Any]]:
    """Namespaces, SERVICES with their EndpointSlices, and the Pods the endpoints name."""
    objects: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "status": {"phase": "Active"},
         "metadata": {"name": ns, "labels": {"kubernetes.io/metadata.name": ns}}}
        for ns in ("default", "kube-system", "shop", "data", "empty")
    ]  # fmt: skip
    pods: dict[tuple[str, str], dict[str, Any]] = {}
    for ns, name, case, ips, ports, fields, slices in SERVICES:
        objects.append(service(ns, name, case, ips, ports, fields))
        for family, endpoints, own_ports in slices:
            objects.append(endpoint_slice(ns, name, len(objects), family, endpoints,
                                          ports if own_ports is None else own_ports))  # fmt: skip
            for entry in endpoints:
                if "targetRef" not in entry or ":" in entry["addresses"][0]:
                    continue
                entry["targetRef"]["namespace"] = ns
                pod, address = entry["targetRef"]["name"], entry["addresses"][0]
                pods[(ns, pod)] = {
                    "apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": pod, "namespace": ns, "labels": {"app": name}},
                    "spec": {"nodeName": entry["nodeName"],
                             "containers": [{"name": "app", "image": "app:1"}]},
                    "status": {"phase": "Running", "podIP": address, "podIPs": [{"ip": address}]},
                }  # fmt: skip
    return objects + list(pods.values())


# -- the names to ask -----------------------------------------------------------------------


def dashed(address: str) -> str:
    text = ipaddress.ip_address(address).compressed.replace(".", "-").replace(":", "-")
    return text + "0" if text.endswith("-") else text


def reverse(address: str) -> str:
    return dns.reversename.from_address(address).to_text()


def names(objects: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(name, kind) for every name either server could serve, and the misses around them."""
    z = ZONE
    out = [(z, "apex"), (f"dns-version.{z}", "dns-version"), (f"ns.dns.{z}", "ns.dns")]
    out += [(f"{n}.{z}", "intermediate") for n in ("dns", "svc", "pod")]
    out += [(f"nothing.{z}", "miss"), (f"any.{z}", "miss"), (f"missing.svc.{z}", "miss")]
    out += [(f"web.missing.svc.{z}", "miss"), (f"*.svc.{z}", "wildcard")]
    out += [(f"*.*.svc.{z}", "wildcard"), (f"web.*.svc.{z}", "wildcard")]
    bases: dict[tuple[str, str], tuple[str, str]] = {}
    for obj in objects:
        meta, kind = obj["metadata"], obj["kind"]
        if kind == "Namespace":
            ns = meta["name"]
            out += [(f"{ns}.svc.{z}", "namespace"), (f"{ns}.pod.{z}", "namespace")]
            out += [(f"*.{ns}.svc.{z}", "wildcard"), (f"missing.{ns}.svc.{z}", "miss")]
        elif kind == "Pod":
            out.append((f"{dashed(obj['status']['podIP'])}.{meta['namespace']}.pod.{z}", "pod"))
        elif kind == "Service":
            base, case = f"{meta['name']}.{meta['namespace']}.svc.{z}", meta["labels"][CASE]
            bases[(meta["namespace"], meta["name"])] = (base, case)
            out.append((base, f"service:{case}"))
            out += [(f"{base}.{s}", "search-miss") for s in (f"shop.svc.{z}", f"svc.{z}", z)]
            out += [(f"x.y.{base}", "deep-miss"), (f"_nope._tcp.{base}", "srv-miss")]
            out += [(f"*.{base}", "wildcard"), (f"*._tcp.{base}", "wildcard")]
            ips = [ip for ip in obj["spec"].get("clusterIPs", []) if ip != "None"]
            out += [(reverse(ip), "reverse:clusterip") for ip in ips]
            out += srv_names(base, case, obj["spec"].get("ports") or [])
        elif kind == "EndpointSlice":
            base, case = bases[(meta["namespace"], meta["labels"]["kubernetes.io/service-name"])]
            out += srv_names(base, case, obj["ports"])
            for entry in [] if obj["addressType"] == "FQDN" else obj["endpoints"] or []:
                ready = "ready" if entry["conditions"]["ready"] else "not-ready"
                address = entry["addresses"][0]
                name = f"{entry.get('hostname') or dashed(address)}.{base}"
                out += [(name, f"endpoint:{case}:{ready}"), (f"x.{name}", "deep-miss")]
                out.append((reverse(address), f"reverse:endpoint-{ready}"))
                named = [p for p in obj["ports"] if p.get("name")][:1]
                out += [(f"_{p['name']}._{p['protocol'].lower()}.{name}", "srv-below-endpoint")
                        for p in named]  # fmt: skip
    for label in ("10-244-9-9", "fd00-10-244-1--99", "not-an-ip", "1-2-3", "010-244-001-010"):
        out.append((f"{label}.shop.pod.{z}", "pod-other"))
    out += [(f"10-244-1-10.{ns}.pod.{z}", "pod-other") for ns in ("missing", "empty")]
    for arpa in ("in-addr.arpa", "10.in-addr.arpa", "96.10.in-addr.arpa", "ip6.arpa",
                 "1.0.0.127.in-addr.arpa", "x.10.in-addr.arpa", "0.0.d.f.ip6.arpa",
                 reverse("10.96.99.99"), reverse("fd00:10:96::ff")):  # fmt: skip
        out.append((arpa, "reverse:other"))
    for outside in ("example.com", "www.example.net", "db.example.org", "nonexistent.example.com",
                    "web.shop.svc", "web.shop"):  # fmt: skip
        out.append((outside, "outside"))
    out += [(f"example.com.{s}", "search-miss") for s in (f"shop.svc.{z}", f"svc.{z}", z)]
    seen: dict[str, str] = {}
    for name, kind in out:
        try:
            dns.name.from_text(name)
        except dns.exception.DNSException:
            continue  # `_<63 octets>._tcp...`: no client can ask it
        seen.setdefault(name.rstrip(".").lower() + ".", kind)
    return list(seen.items())


def srv_names(base: str, case: str, ports: list[dict[str, Any]]) -> list[tuple[str, str]]:
    out = []
    for p in ports:
        proto = p.get("protocol", "TCP").lower()
        out.append((f"_{proto}.{base}", "srv-proto-only"))
        if p.get("name"):
            other = "udp" if proto != "udp" else "tcp"
            out += [(f"_{p['name']}._{proto}.{base}", f"srv:{case}")]
            out += [(f"{p['name']}.{proto}.{base}", "srv-no-underscores")]
            out += [(f"_{p['name']}._{other}.{base}", "srv-wrong-protocol")]
            out += [(f"_{p['name']}.*.{base}", "wildcard")]
    return out


@dataclass
class Question:
    name: str  # as asked, in its letter case
    qtype: str
    kind: str
    variant: str
    tcp: bool = False

    def text(self) -> str:
        return f"{self.name} {self.qtype} ({self.variant}{', tcp' if self.tcp else ''})"


def questions(objects: list[dict[str, Any]], *, tcp_every: int, seed: int) -> list[Question]:
    rng = random.Random(seed)
    out: list[Question] = []
    for name, kind in names(objects):
        for qtype in TYPES:
            for variant in VARIANTS[:3]:
                asked = name
                if variant == "edns":
                    asked = "".join(c.upper() if rng.random() < 0.5 else c for c in name)
                out.append(Question(asked, qtype, kind, variant))
        out.append(Question(name, "A", kind, "class-ch"))  # not IN: REFUSED or answered?
    if tcp_every > 0:
        out += [Question(q.name, q.qtype, q.kind, q.variant, True) for q in out[::tcp_every]]
    return out


# -- asking and comparing -------------------------------------------------------------------


def ask(question: Question, port: int) -> dict[str, Any]:
    query = dns.message.make_query(
        question.name,
        question.qtype,
        "CH" if question.variant == "class-ch" else "IN",
        use_edns=False if question.variant in ("plain", "class-ch") else 0,
        want_dnssec=question.variant == "do",
        payload=1232,
    )
    exchange = dns.query.tcp if question.tcp else dns.query.udp
    for _attempt in range(2):
        try:
            reply = exchange(query, "127.0.0.1", timeout=2.0, port=port)
        except dns.exception.Timeout:
            continue
        except Exception as error:  # a reply dnspython cannot read is a result too
            return {"error": f"{type(error).__name__}: {error}"}
        return {
            "rcode": dns.rcode.to_text(reply.rcode()),
            "flags": [f for f in ("AA", "TC", "RA") if reply.flags & dns.flags.Flag[f]],
            "answer": rows(reply.answer),
            "authority": rows(reply.authority),
            "additional": rows(reply.additional),
            "opt": reply.edns >= 0,
            "do": bool(reply.ednsflags & dns.flags.DO),
            "payload": reply.payload if reply.edns >= 0 else None,
        }
    return {"error": "timeout"}


def rows(section: list[dns.rrset.RRset]) -> list[list[Any]]:
    return [
        [rrset.name.to_text(), rrset.ttl, dns.rdatatype.to_text(rrset.rdtype), rdata.to_text()]
        for rrset in section
        for rdata in rrset
    ]


def canon(reply: dict[str, Any], section: str) -> set[tuple[str, str, str]]:
    out = set()
    for owner, _ttl, rtype, rdata in reply[section]:
        if rtype == "SOA":  # serials differ by design (svcdns: the time of the last change)
            fields = rdata.split()
            rdata = " ".join([*fields[:2], "SERIAL", *fields[3:]])
        out.add((owner.lower(), rtype, rdata.lower()))
    return out


def outcome(reply: dict[str, Any], *, counts: bool = False) -> str:
    """`NXDOMAIN`, `NODATA`, `CNAME+A`, `2 A+SRV`: the rcode and the answer's types."""
    if "error" in reply:
        return str(reply["error"])
    found = Counter(row[2] for row in reply["answer"])
    kinds = sorted(found, key=lambda t: (t != "CNAME", t))
    parts = [f"{found[t]} {t}" if counts and found[t] > 1 else t for t in kinds]
    rcode = "" if reply["rcode"] == "NOERROR" else reply["rcode"]
    return " ".join(filter(None, [rcode, "+".join(parts)])) or "NODATA"


def owners(reply: dict[str, Any], section: str, qname: str) -> str:
    """`SOA@cluster.local`, `2 A@other`: types by owner, the owner named only as the
    question's name, a zone apex or another name (so one class holds many Services)."""

    def where(owner: str) -> str:
        owner = owner.lower()
        if owner == qname.lower():
            return "qname"
        return owner.rstrip(".") if owner in (f"{ZONE}.", "in-addr.arpa.", "ip6.arpa.") else "other"

    found = Counter((where(row[0]), row[2]) for row in reply[section])
    return ", ".join(f"{n} {t}@{o}" if n > 1 else f"{t}@{o}" for (o, t), n in sorted(found.items()))


def letter_case(reply: dict[str, Any], qname: str) -> str:
    """How each section's owner names are cased: as asked, lower case, or mixed."""
    seen = set()
    for section in ("answer", "authority", "additional"):
        for owner, *_rest in reply[section]:
            how = "as asked" if owner == qname else "lower" if owner == owner.lower() else "mixed"
            seen.add(f"{section} {how}")
    return "; ".join(sorted(seen)) or "-"


def ttls(reply: dict[str, Any]) -> dict[tuple[str, str, str], str]:
    out: dict[tuple[str, str, str], set[int]] = {}
    for section in ("answer", "authority", "additional"):
        for owner, ttl, rtype, _rdata in reply[section]:
            out.setdefault((section, owner.lower(), rtype), set()).add(ttl)
    return {key: "/".join(map(str, sorted(values))) for key, values in out.items()}


def differences(q: Question, a: dict[str, Any], b: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(aspect, svcdns's side, CoreDNS's side): one main aspect (the first of answer, flags,
    authority, additional that differs: the later ones mostly follow from it), then each of
    OPT, DO, TTL and letter case, which are independent of it."""
    if "error" in a or "error" in b:
        return [] if a == b else [("no-reply", outcome(a), outcome(b))]
    if q.variant == "class-ch":  # one class for the lot: only the rcode says what happened
        return [] if a["rcode"] == b["rcode"] else [("class-ch", a["rcode"], b["rcode"])]
    out = []
    answers = canon(a, "answer"), canon(b, "answer")
    if a["rcode"] != b["rcode"] or answers[0] != answers[1]:
        if outcome(a) != outcome(b):
            out.append(("answer", outcome(a), outcome(b)))
        else:
            changed = "+".join(sorted({row[1] for row in answers[0] ^ answers[1]}))
            out.append((f"records of {changed}", outcome(a, counts=True), outcome(b, counts=True)))
    elif a["flags"] != b["flags"]:
        out.append(("flags", " ".join(a["flags"]) or "-", " ".join(b["flags"]) or "-"))
    elif canon(a, "authority") != canon(b, "authority"):
        left, right = owners(a, "authority", q.name), owners(b, "authority", q.name)
        if left == right:  # the same owners and types: the SOA fields differ
            left, right = ("; ".join(sorted(r[2] for r in canon(x, "authority"))) for x in (a, b))
        out.append(("authority", left or "-", right or "-"))
    elif canon(a, "additional") != canon(b, "additional"):
        left, right = owners(a, "additional", q.name), owners(b, "additional", q.name)
        out.append(("additional", left or "-", right or "-"))
    if a["opt"] != b["opt"]:
        out.append(("opt", "OPT" if a["opt"] else "no OPT", "OPT" if b["opt"] else "no OPT"))
    elif a["do"] != b["do"]:
        out.append(("do-bit", "DO" if a["do"] else "no DO", "DO" if b["do"] else "no DO"))
    ttl_a, ttl_b = ttls(a), ttls(b)
    changed_ttls = sorted(k for k in ttl_a.keys() & ttl_b.keys() if ttl_a[k] != ttl_b[k])
    if changed_ttls:
        sides = [
            ", ".join(f"{s} {t} {x[(s, o, t)]}" for s, o, t in changed_ttls) for x in (ttl_a, ttl_b)
        ]
        out.append(("ttl", sides[0], sides[1]))
    if canon(a, "answer") | canon(a, "authority") == canon(b, "answer") | canon(b, "authority"):
        left, right = letter_case(a, q.name), letter_case(b, q.name)
        if left != right:
            out.append(("letter-case", left, right))
    return out


def render(reply: dict[str, Any], width: int = 360) -> str:
    if "error" in reply:
        return str(reply["error"])
    parts = [f"{reply['rcode']} {' '.join(reply['flags'])}".strip()]
    for section in ("answer", "authority", "additional"):
        if reply[section]:
            parts.append(
                f"{section[:3]}: " + "; ".join(" ".join(map(str, row)) for row in reply[section])
            )
    parts.append(("OPT DO" if reply["do"] else "OPT") if reply["opt"] else "no OPT")
    text = " | ".join(parts)
    return text if len(text) <= width else text[: width - 3] + "..."


# -- the upstream -----------------------------------------------------------------------------

OUTSIDE: dict[str, dict[str, list[str]]] = {
    "example.com.": {
        "A": ["93.184.215.14"],
        "AAAA": ["2606:2800:21f:cb07:6820:80da:af6b:8b2c"],
        "MX": ["10 mail.example.com."],
        "TXT": ['"v=spf1 -all"'],
        "NS": ["a.iana-servers.net."],
    },
    "www.example.net.": {"CNAME": ["example.com."]},
    "db.example.org.": {"A": ["192.0.2.10"], "AAAA": ["2001:db8::10"]},
    "backend.example.org.": {"A": ["192.0.2.20"]},
}
ROOT_SOA = "a.root-servers.net. nstld.verisign-grs.com. 2024010100 1800 900 604800 86400"


def upstream_reply(wire: bytes) -> bytes:
    """A recursive resolver's reply (RA, not AA) from OUTSIDE; NXDOMAIN for other names."""
    query = dns.message.from_wire(wire)
    response = dns.message.make_response(query)
    response.flags |= dns.flags.RA
    if query.edns >= 0:
        response.use_edns(0, query.ednsflags & dns.flags.DO, 1232)
    name, qtype = query.question[0].name, dns.rdatatype.to_text(query.question[0].rdtype)
    records = OUTSIDE.get(name.to_text().lower(), {})
    if "CNAME" in records and qtype != "CNAME":
        response.answer.append(dns.rrset.from_text_list(name, TTL, "IN", "CNAME", records["CNAME"]))
        name = dns.name.from_text(records["CNAME"][0])
        records = OUTSIDE.get(name.to_text().lower(), {})
    for rtype in records if qtype == "ANY" else [qtype] if qtype in records else []:
        response.answer.append(dns.rrset.from_text_list(name, TTL, "IN", rtype, records[rtype]))
    if not records:
        response.set_rcode(dns.rcode.NXDOMAIN)
    if not records or (qtype not in records and qtype != "ANY"):
        response.authority.append(dns.rrset.from_text(".", TTL, "IN", "SOA", ROOT_SOA))
    return response.to_wire()


class UdpHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.request[1].sendto(upstream_reply(self.request[0]), self.client_address)


class TcpHandler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        while len(head := self.rfile.read(2)) == 2:
            wire = upstream_reply(self.rfile.read(int.from_bytes(head, "big")))
            self.wfile.write(len(wire).to_bytes(2, "big") + wire)


class Upstream:
    """upstream_reply() on UDP and TCP of one loopback port, in threads."""

    def __init__(self) -> None:
        self.port = free_port()
        self.udp = socketserver.ThreadingUDPServer(("127.0.0.1", self.port), UdpHandler)
        self.tcp = socketserver.ThreadingTCPServer(("127.0.0.1", self.port), TcpHandler)
        for server in (self.udp, self.tcp):
            server.daemon_threads = True
            threading.Thread(target=server.serve_forever, daemon=True).start()

    def close(self) -> None:
        for server in (self.udp, self.tcp):
            server.shutdown()
            server.server_close()


# -- the servers --------------------------------------------------------------------------------


def corefile(*, port: int, ready: int, kubeconfig: Path, upstream: int, cache: int = 0,
             metrics: int = 0) -> str:  # fmt: skip
    """kubeadm's Corefile on loopback; `cache` and `metrics` (a port): its `cache 30` and
    `prometheus` (bench/coredns.py), left out when 0 (here)."""
    return (
        f".:{port} {{\n    bind 127.0.0.1\n    errors\n    ready 127.0.0.1:{ready}\n"
        f"    kubernetes {ZONE} in-addr.arpa ip6.arpa {{\n"
        f"        kubeconfig {kubeconfig} fake\n        pods insecure\n"
        f"        fallthrough in-addr.arpa ip6.arpa\n        ttl {TTL}\n    }}\n"
        + (f"    prometheus 127.0.0.1:{metrics}\n" if metrics else "")
        + f"    forward . 127.0.0.1:{upstream}\n"
        + (f"    cache {cache}\n" if cache else "")
        + "    loadbalance\n}\n"
    )


def start(argv: list[str], log: Path, cwd: Path, started: list[subprocess.Popen[bytes]]) -> None:
    with log.open("wb") as out:
        started.append(subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, cwd=cwd))


def wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{process.args[0]} exited ({process.returncode}):\n{tail}")
        try:
            with urllib.request.urlopen(url, timeout=1) as reply:
                if reply.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"not ready at {url} after 60 s; see {log}")


def output(argv: list[str]) -> str:
    return subprocess.run(argv, capture_output=True, text=True, check=False).stdout.strip()


def stop(started: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM each process this script started, by its PID; SIGKILL after 5 s."""
    while started:
        process = started.pop()
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


# -- the run ----------------------------------------------------------------------------------


def compare(q: Question, ports: tuple[int, int]) -> dict[str, Any]:
    a, b = ask(q, ports[0]), ask(q, ports[1])
    classes = []
    for aspect, left, right in differences(q, a, b):
        scope = "" if aspect in INDEPENDENT else q.kind.split(":")[0] + ": "
        classes.append(f"{scope}{aspect}: svcdns {left}, coredns {right}")
    return {"question": asdict(q), "svcdns": a, "coredns": b, "classes": classes}


def summarise(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    classes: dict[str, dict[str, Any]] = {}
    for result in results:
        q = result["question"]
        for key in result["classes"]:
            entry = classes.setdefault(key, {"class": key, "count": 0, "example": result})
            entry["count"] += 1
            values = {"types": q["qtype"], "variants": q["variant"], "kinds": q["kind"]}
            for field, value in (values | {"over": "tcp" if q["tcp"] else "udp"}).items():
                entry.setdefault(field, set()).add(value)
    out = sorted(classes.values(), key=lambda e: (-e["count"], e["class"]))
    for entry in out:
        entry["types"] = [t for t in TYPES if t in entry["types"]]
        entry["variants"] = [v for v in VARIANTS if v in entry["variants"]]
        entry["kinds"], entry["over"] = sorted(entry["kinds"]), sorted(entry["over"])
        example = entry["example"]
        entry["example"] = {
            "question": Question(**example["question"]).text(),
            "svcdns": render(example["svcdns"]),
            "coredns": render(example["coredns"]),
        }
    return out


def report(results: list[dict[str, Any]], classes: list[dict[str, Any]], seconds: float) -> None:
    agree = sum(1 for r in results if not r["classes"])
    tcp = sum(1 for r in results if r["question"]["tcp"])
    print(f"\n{len(results)} questions ({tcp} of them over TCP) in {seconds:.0f} s: {agree} "
          f"agree, {len(results) - agree} differ; {len(classes)} classes\n")  # fmt: skip
    for entry in classes:
        print(f"{entry['count']:6d}  {entry['class']}")
        print(f"        types {' '.join(entry['types'])}; {' '.join(entry['variants'])}; "
              f"{'+'.join(entry['over'])}; kinds {' '.join(entry['kinds'])}")  # fmt: skip
        print(f"        e.g. {entry['example']['question']}")
        print(f"          svcdns : {entry['example']['svcdns']}")
        print(f"          coredns: {entry['example']['coredns']}")


def run(args: argparse.Namespace, work: Path, started: list[subprocess.Popen[bytes]]) -> int:
    objects = cluster()
    fake, upstream = FakeApiServer(tls=True), Upstream()
    try:
        for obj in objects:
            fake.apply(obj)
        fake.start()
        kubeconfig = fake.write_kubeconfig(work / "kubeconfig")
        dns_a, http_a, dns_b, ready_b = (free_port() for _ in range(4))
        conf = corefile(port=dns_b, ready=ready_b, kubeconfig=kubeconfig, upstream=upstream.port)
        (work / "Corefile").write_text(conf)
        argv = [sys.executable, "-m", "svcdns", "serve", "--kubeconfig", str(kubeconfig),
                "--context", "fake", "--listen", f"127.0.0.1:{dns_a}", "--http",
                f"127.0.0.1:{http_a}", "--upstream", f"127.0.0.1:{upstream.port}", "--ttl",
                str(TTL), "--pods", "insecure", "--cache-size", "0",
                "--max-qps-per-client", "0"]  # fmt: skip
        logs = args.out / "svcdns.log", args.out / "coredns.log"
        start(argv, logs[0], args.svcdns_root, started)
        start([str(args.coredns), "-conf", str(work / "Corefile")], logs[1], work, started)
        wait_ready(f"http://127.0.0.1:{http_a}/ready", started[0], logs[0])
        wait_ready(f"http://127.0.0.1:{ready_b}/ready", started[1], logs[1])
        version = output([str(args.coredns), "-version"]).split("\n")[0]
        revision = (
            output(["git", "-C", str(args.svcdns_root), "describe", "--always", "--dirty"]) or "?"
        )
        qs = questions(objects, tcp_every=args.tcp_every, seed=args.seed)
        print(f"{version} on 127.0.0.1:{dns_b}, svcdns {revision} on 127.0.0.1:{dns_a}, "
              f"{len(objects)} objects: asking {len(qs)} questions", flush=True)  # fmt: skip
        began, pool = time.monotonic(), ThreadPoolExecutor(max_workers=args.workers)
        try:
            results = list(pool.map(lambda q: compare(q, (dns_a, dns_b)), qs))
        finally:  # interrupted: drop the questions not asked yet
            pool.shutdown(wait=False, cancel_futures=True)
        seconds = time.monotonic() - began
        classes = summarise(results)
        report(results, classes, seconds)
        document = {
            "coredns": version,
            "corefile": conf,
            "svcdns_argv": argv[1:],
            "svcdns_revision": revision,
            "questions": len(results),
            "agree": sum(1 for r in results if not r["classes"]),
            "seconds": round(seconds, 1),
            "classes": classes,
            "objects": objects,
            "results": results,
        }
        path = args.out / "coredns_compare.json"
        path.write_text(json.dumps(document) + "\n", encoding="utf-8")
        print(f"\nevery question and both replies: {path}")
        return 0
    finally:
        stop(started)
        fake.stop()
        upstream.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--coredns", type=Path, required=True, help="the CoreDNS binary")
    out = Path(tempfile.gettempdir()) / "coredns-compare"
    parser.add_argument("--out", type=Path, default=out, help=f"results (default {out})")
    parser.add_argument("--tcp-every", type=int, default=10, help="also ask every Nth over TCP")
    parser.add_argument("--workers", type=int, default=4, help="questions in flight")
    parser.add_argument("--seed", type=int, default=13, help="of the random letter case")
    parser.add_argument("--svcdns-root", type=Path, default=REPO, help="where `-m svcdns` runs")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    started: list[subprocess.Popen[bytes]] = []

    def terminate(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)  # unwinds through the finally clauses: stop(started)

    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGHUP, terminate)
    with tempfile.TemporaryDirectory(prefix="coredns-compare-") as work:
        try:
            return run(args, Path(work), started)
        finally:
            stop(started)


if __name__ == "__main__":
    raise SystemExit(main())
