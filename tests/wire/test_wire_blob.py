"""wire.blob: the blob layout read back, stored deflated when big, and core's blobs in it."""

from __future__ import annotations

import struct

import pytest
from helpers import wire

from svcdns.core.rr import Record, RRType
from svcdns.core.wire import encode_blob
from svcdns.wire.blob import (
    DEFLATE_ABOVE,
    DEFLATED,
    TYPE_HEADER,
    blob_types,
    deflate,
    inflate,
)

# type A | AN 1 | AR 0 | answer 16 octets | additional 0 | c00c A IN TTL 5 rdlen 4 10.0.0.1
# then type TXT | AN 1 | AR 0 | 14 | 0 | c00c TXT IN TTL 5 rdlen 2 "\x01x"
BLOB = (
    "0001 0001 0000 0010 0000  c00c 0001 0001 00000005 0004 0a000001"
    "  0010 0001 0000 000e 0000  c00c 0010 0001 00000005 0002 0178"
)


def test_a_blob_reads_back_type_by_type() -> None:
    assert list(blob_types(wire(BLOB))) == [
        (1, 1, 0, wire("c00c 0001 0001 00000005 0004 0a000001"), b""),
        (16, 1, 0, wire("c00c 0010 0001 00000005 0002 0178"), b""),
    ]


def test_cores_blobs_have_this_layout() -> None:
    record = Record("web.shop.svc.cluster.local", RRType.A, 5, "10.0.0.1")
    blob = encode_blob(record.name, [[record]], {})
    assert blob == wire(BLOB.split("  0010")[0])
    assert TYPE_HEADER.unpack_from(blob) == (1, 1, 0, 16, 0)


def test_a_small_blob_is_stored_as_it_is() -> None:
    blob = wire(BLOB)
    assert deflate(blob) is blob
    assert inflate(blob) is blob


def test_a_big_blob_is_stored_deflated_and_inflates_whole() -> None:
    blob = wire(BLOB) * (DEFLATE_ABOVE // len(wire(BLOB)) + 1)
    stored = deflate(blob)
    assert stored[0] == DEFLATED and len(stored) < len(blob)
    assert inflate(stored) == blob


def test_a_blob_cut_short_is_an_error_not_a_wrong_answer() -> None:
    with pytest.raises(struct.error):
        list(blob_types(wire(BLOB)[:5]))
