"""roialign: RoIAlign reproducible across frameworks.

The public API is imported lazily so that `import roialign_cli` (and the CLI's start-up) does not
pull in NumPy.
"""

__version__ = "0.1.0"

__all__ = ["Convention", "__version__", "roi_align", "roi_align_backward"]


def __getattr__(name):
    if name in ("roi_align", "roi_align_backward"):
        from . import api

        return getattr(api, name)
    if name == "Convention":
        from .conventions import Convention

        return Convention
    raise AttributeError(f"module 'roialign_cli' has no attribute {name!r}")
