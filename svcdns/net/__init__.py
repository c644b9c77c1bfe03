"""Sockets: the UDP/TCP listeners. Handed a `handle` callable; imports no other part of svcdns."""
