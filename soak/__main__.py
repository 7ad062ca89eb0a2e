"""`python -m soak` (from the repository root); `python soak/run.py` works too."""

from soak.run import main

raise SystemExit(main())
