"""Wire format: DNS messages in, DNS messages out (bytes to bytes, no sockets). Imports `core`."""
