"""`python -m soak` (from the repository root: it shares bench/servers.py)."""

from soak.run import main

raise SystemExit(main())
