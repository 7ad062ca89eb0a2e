"""`python -m oeskit` runs the CLI."""

from oeskit.cli import main

main()
