"""Operations: /health /ready /metrics over HTTP, every metric named. Imports `core` and
`net`'s listen address."""
