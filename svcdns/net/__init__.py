"""Sockets: the UDP/TCP listeners, the upstream exchange, the forward cache's store. Handed
callables; imports only `wire` of svcdns."""
