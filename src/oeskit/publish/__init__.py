"""Contract tools for docs teams: lint, diff and a static reference site.

They read contract documents (files, or `REV:PATH` from git) and never the server; import rules
keep them away from `http`, `domain` and `store`.
"""
