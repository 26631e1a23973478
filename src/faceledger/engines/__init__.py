"""How work is spread. Every engine has the same shape: ``map_unordered(fn, items)`` yields
``fn(item)`` results as they finish, with a bounded number in flight, and reports a worker
failure as an exception in the driver (never a silent no-op).

- :class:`~faceledger.engines.local.InProcess`: one process, no pool (workers = 1).
- :class:`~faceledger.engines.local.ProcessPool`: local worker processes (the default).
- :class:`~faceledger.engines.ray_engine.RayEngine`: Ray actors, local or on a cluster
  (setting ``engine = "ray"``, ``ray_address``; needs ``faceledger[ray]``). It also has
  ``map_keyed(fn, (key, item) pairs, batch=...)``: batches of one key, each key kept on one
  actor (``fetch`` keys by host, so per-host politeness holds cluster-wide).
"""

from faceledger.engines.local import InProcess, ProcessPool, make_engine

__all__ = ["InProcess", "ProcessPool", "make_engine"]
