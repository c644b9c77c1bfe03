"""`python -m svcdns`: the same entry point as the `svcdns` console script."""

from svcdns.cli import main

raise SystemExit(main())
