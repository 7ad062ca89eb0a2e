"""oeskit's reference partner: the endpoints BitGo calls on an exchange (`partner-hosted.yaml`).

Read it as an example of a partner's side. Three modules, one job each:

- `rules`: what the endpoints decide (connections, reservations, clear and release, the free
  balance), as functions over plain records and a `Book` port. No HTTP, no SQL, no clock.
- `store`: the SQLite file: accounts, the one table of allocations and deallocations whose
  primary key is the shared unique index, seen token ids; every change in a `BEGIN IMMEDIATE`
  transaction.
- `app`: the ASGI application: checks `X-BitGo-Signature`, validates bodies against the
  contract, calls `rules` inside a store transaction, and answers the contract's JSON.

`oeskit partner serve` runs it.
"""
