"""oeskit benchmark runner (issue #4): `python -m bench` (or `make bench`).

Sections, each selectable with `--only`:

a. small signed settlement (2 connections x 2 currencies): req/s, p50, p99 at 1 and 32
   connections, for the sandbox with 1 and 2 workers and for Prism serving openapi.yaml;
b. identical replay of one request (the idempotent path) at 32 connections;
c. big settlements (1k, 10k, 50k connections x 5 currencies, exchange shape; 10k nested broker
   shape) against a floor measured in the same run, and the replay of the 10k settlement;
d. reads: GET of the 50k-transfer settlement (paged by 1000) and the settlement list;
e. start-up (process start to first 200) and RSS after the load.

Load comes from wrk (out of process) with pre-signed bodies; everything binds to loopback.
Results go to bench/results/<UTC stamp>.json. Never part of `make test`.
"""
