"""Wire format, owned once: the header and its flags, names in messages, our OPT, size
limits, the blob layout and the SOA timers. Constants and pure functions on bytes; no I/O.
Imports nothing of svcdns outside this package: core, dns and net all stand on it.
"""
