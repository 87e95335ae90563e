"""sianode-flows: atomate2/jobflow workflows for Si-based Li-ion anodes.

Harvest charged Li-Si-X candidates, delithiate them at random, relax each
configuration with a swappable relax maker (CHGNet by default), measure the Li-ion
channel radius with CAVD and fit it against state of charge.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("sianode-flows")
except PackageNotFoundError:  # pragma: no cover - not installed
    __version__ = "0.0.0"

__all__ = ["__version__"]
