"""HTTP: translate requests into domain calls and results into responses. No business rules."""
