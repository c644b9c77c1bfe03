"""svcdns: the DNS server of a Kubernetes cluster (service discovery, spec schema 1.1.0)."""

__version__ = "0.1.0"
SPEC_VERSION = "1.1.0"
