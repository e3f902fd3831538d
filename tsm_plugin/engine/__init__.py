"""Registered components; see the package docstring."""
from . import hooks  # noqa: F401  (registration)
from . import checkpoint, loops, samplers  # noqa: F401,E402  (registration)

# Atomic checkpoint writes, safe loads, and a resume that never follows
# last_checkpoint to a missing or half-written file.
checkpoint.install()
from . import data_preprocessor, optim_wrapper  # noqa: F401,E402  (registration)
