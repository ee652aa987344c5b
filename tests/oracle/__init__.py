"""Pure-numpy reference engine for the step model (see ``docs/semantics.md``)."""

from __future__ import annotations

from .engine import simulate

__all__ = ["simulate"]
