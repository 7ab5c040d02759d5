"""Several daemon nodes (``AE_REDIS``): node liveness (:mod:`.node`), link leases
(:mod:`.leases`), requests between nodes (:mod:`.bus`) and the routing of links and
dispatches built on them (:mod:`.routing`). Unused, and never imported, with one node."""

from .routing import Cluster, ClusterBusy, DispatchUncertain, LocalLinks

__all__ = ["Cluster", "ClusterBusy", "DispatchUncertain", "LocalLinks"]
