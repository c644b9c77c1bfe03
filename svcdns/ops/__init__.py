"""Operations: /health /ready /metrics over HTTP. Imports `core` at most."""
