"""gap-replay: a rebuildable medical pretraining corpus on Apache Beam."""

__version__ = "0.1.0"
