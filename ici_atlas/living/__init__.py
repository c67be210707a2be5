"""The living evidence base: snapshots (citable releases), what changed between two of them,
alerts as feeds, and the one-command update."""
