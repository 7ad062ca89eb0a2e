"""HTTP: translate requests into domain calls and results into responses. No business rules."""

import warnings

# connexion 3.3 imports starlette.testclient, which Starlette 1.x deprecates at import; we never
# use it, and the warning would greet every `oeskit serve` user. Every module of this package
# imports connexion after this line has run.
warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
