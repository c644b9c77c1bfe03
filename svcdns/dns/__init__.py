"""DNS messages in, DNS messages out (bytes to bytes, no sockets): the fast and full paths,
the forwarding decision, transfers, the reply dispatcher. Imports `core` and `wire`."""
