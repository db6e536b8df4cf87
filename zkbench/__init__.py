"""zkbench: a terminal workbench for Apache ZooKeeper."""

__version__ = "0.1.0"
