"""Local ZooKeeper servers for tests, demos and ``zkbench`` without ``--hosts``."""

from zkbench.server.distribution import (HOW_TO_GET_ZOOKEEPER, Distribution, DistributionNotFound,
                                         find_distribution)
from zkbench.server.local import LocalEnsemble, LocalServer, Member, PortConflict, ServerStartError, free_port

__all__ = ["Distribution", "DistributionNotFound", "find_distribution", "HOW_TO_GET_ZOOKEEPER",
           "LocalServer", "LocalEnsemble", "Member", "ServerStartError", "PortConflict", "free_port"]
