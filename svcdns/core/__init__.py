"""The pure core: Kubernetes objects in, DNS records and answers out. No I/O, no outside
libraries; imports nothing of svcdns outside `core` (but the package's version constants)."""
