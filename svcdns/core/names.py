"""Pure name arithmetic: labels, dashed addresses, reverse names.

Spec references are to the Kubernetes DNS-Based Service Discovery specification 1.1.0.
Imports only the stdlib.
"""

from __future__ import annotations

import ipaddress
import re

_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def is_dns_label(text: str) -> bool:
    """An RFC 1123 label, as Kubernetes validates hostnames."""
    return bool(_LABEL.match(text))


def dashed(address: str) -> str:
    """`10.244.1.5` -> `10-244-1-5`; `fd00:10::1` -> `fd00-10--1`; `2001:db8::` -> `2001-db8--0`.

    A label may not end in `-`, so CoreDNS appends a `0` (which still parses as the address).
    """
    text = address.replace(".", "-").replace(":", "-")
    if text.endswith("-"):
        text += "0"
    if text.startswith("-"):
        text = "0" + text
    return text


def undashed(label: str) -> str | None:
    """The address a dashed label stands for, or None when it is not one."""
    if label.count("-") == 3 and "--" not in label:
        candidate = label.replace("-", ".")
    else:
        candidate = label.replace("-", ":")
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return None


def reverse_name(address: str) -> str:
    """The in-addr.arpa / ip6.arpa owner of an address, without the trailing dot."""
    if ":" not in address:  # addresses come canonical from `convert`: reverse the octets
        return ".".join(reversed(address.split("."))) + ".in-addr.arpa"
    return ipaddress.ip_address(address).reverse_pointer


def is_ipv6(address: str) -> bool:
    return ":" in address


def under(name: str, zone: str) -> bool:
    """Whether `name` is `zone` or inside it (both lower-case, no trailing dot)."""
    return name == zone or name.endswith("." + zone)
