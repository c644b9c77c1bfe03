"""The fake API's list bodies are joined from each object's encoded bytes, kept while the
object is current: byte for byte what encoding the whole body writes (Go's compact JSON,
`<>&` escaped), also after a change and for a list at a past resourceVersion."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from builders import cluster_ip_service
from fakeapi import FakeApiServer
from fakeapi.bodies import encode, without_type


def raw_list(fake: FakeApiServer, query: str = "") -> bytes:
    request = urllib.request.Request(
        f"{fake.url}/api/v1/services{query}", headers={"Authorization": f"Bearer {fake.token}"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return bytes(response.read())


def whole(body: bytes) -> bytes:
    """What encode() writes for the same list, every item encoded afresh."""
    page: dict[str, Any] = json.loads(body)
    page["items"] = [without_type(item) for item in page["items"]]
    return encode(page)


def test_list_bodies_are_what_encoding_the_whole_body_gives() -> None:
    with FakeApiServer() as fake:
        for number in range(5):
            service = cluster_ip_service(f"web-{number}", f"10.96.0.{number + 1}")
            service["metadata"]["annotations"] = {"note": "a<b>&c \u2028 café"}
            fake.apply(service)
        fake.encode_lists()  # what churn_api does after loading a cluster
        first = raw_list(fake)
        assert first == whole(first) and b"\\u003c" in first and "café".encode() in first
        past = fake.resource_version
        fake.apply(cluster_ip_service("web-2", "10.96.9.9"))  # a new object for web-2
        now = raw_list(fake)
        assert now == whole(now) and b"10.96.9.9" in now and b"10.96.0.3" not in now
        assert raw_list(fake) == now  # from the kept bytes
        before = raw_list(fake, f"?resourceVersion={past}&resourceVersionMatch=Exact")
        assert before == whole(before) and b"10.96.0.3" in before and b"10.96.9.9" not in before
        paged = raw_list(fake, "?limit=2")
        assert paged == whole(paged) and len(json.loads(paged)["items"]) == 2
