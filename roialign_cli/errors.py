"""Errors a user can fix. The CLI prints their message on one line and exits 2."""


class RoiAlignError(Exception):
    """Base of every error caused by the user's input or environment, not by a bug."""


class InputError(RoiAlignError, ValueError):
    """A file, array, box or option that cannot be used as given."""


class BackendUnavailable(RoiAlignError, RuntimeError):
    """The asked-for engine cannot run here (for example CUDA without a GPU)."""
