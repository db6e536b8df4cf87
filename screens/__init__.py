"""zkbench package."""
