"""roialign: RoIAlign reproducible across frameworks.

The public API is imported lazily so that `import roialign_cli` (and the CLI's start-up) does not
pull in NumPy.
"""

__version__ = "0.1.0"

__all__ = ["roi_align", "Convention", "__version__"]


def __getattr__(name):
    if name == "roi_align":
        from .api import roi_align

        return roi_align
    if name == "Convention":
        from .conventions import Convention

        return Convention
    raise AttributeError(f"module 'roialign_cli' has no attribute {name!r}")
