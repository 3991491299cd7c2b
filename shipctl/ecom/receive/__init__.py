"""Ecom's receiving side: the customer's end of Ecom Express's push API (docs/ecom.md,
README "Receiving pushes"). `ecom listen` receives pushes, stores them and may relay them;
`ecom export` writes them out for `ecom replay`; `ecom forward` shows the relay's queue.

- ``receiver``: the rules, free of any server: one request's headers and body → the answer
  and, for an accepted push, what to store. The sandbox's simulator uses it too.
- ``listen``: serving with uvicorn, shutdown and log routing; ``app`` is the ASGI app
  (one POST path, credentials before the body, brute-force blocking, one log line per push);
  ``connections`` guards the HTTP level (binding, the connection limit, request-head
  deadlines, requests the parser refuses); ``logline`` makes a log line safe and rate-limited.
- ``store``: the SQLite capture store, each push committed before its 200.
- ``relay``: ``--forward-to``, a durable relay that reads what to send from the store.
- ``export``: the store as JSON Lines, its conflicts, the relay's queue.
- ``options``: checking `ecom listen`'s options, for the thin command in
  ``shipctl.ecom.receive.commands``.

Nothing here is imported until one of those commands runs (or the sandbox starts).
"""
