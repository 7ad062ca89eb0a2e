"""`python -m soak`: same as `python soak/run.py`."""

from soak.run import main

raise SystemExit(main())
