"""stockwire: a real-time integration hub for retail inventory."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
