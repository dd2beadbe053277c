"""Defaults of `compare` and `roialign diff`, in a module without NumPy so that `--help` can show them.

Two frameworks computing the same RoIAlign in float32 differ by a few units in the last place:
measured between this project's NumPy engine and torchvision, the relative difference stays
below 1e-6 and the absolute one below 1e-6 x the feature magnitude. A different convention
(half-pixel offset, +1 box size, sampling grid) moves outputs by percent. rtol 1e-4 leaves a
margin of 100 over the first and still catches the second; atol 1e-5 covers outputs near zero,
where a relative test means nothing.
"""

ATOL = 1e-5
RTOL = 1e-4
TOP = 10
