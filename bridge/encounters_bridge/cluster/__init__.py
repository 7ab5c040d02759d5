"""Several daemon nodes (``AE_REDIS``): node liveness (:mod:`.node`), link leases
(:mod:`.leases`), requests between nodes (:mod:`.bus`) and the routing of links and
dispatches built on them (:mod:`.routing`). Not used with one node (``AE_REDIS``
unset); nothing here imports ``redis`` until a :class:`Cluster` is built."""

from .routing import Cluster, ClusterBusy, DispatchUncertain, LocalLinks

__all__ = ["Cluster", "ClusterBusy", "DispatchUncertain", "LocalLinks"]
