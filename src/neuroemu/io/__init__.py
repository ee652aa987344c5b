"""Model import and export: PyTorch / snnTorch (:func:`from_torch`), NIR (:func:`from_nir`,
:func:`to_nir`) and neuroemu's own network file (:func:`save`, :func:`load`).

The public entry points are ``Network.from_torch``, ``Network.from_nir``, ``Network.to_nir``,
``Network.save`` and ``Network.load``; this package holds their implementations. Importing it does not
import torch or nir (each function imports what it needs when called).
"""

from __future__ import annotations

from typing import Any

__all__ = ["from_nir", "from_torch", "load", "save", "to_nir"]


def from_torch(*args: Any, **kwargs: Any) -> Any:
    from .torch_import import from_torch as impl

    return impl(*args, **kwargs)


def from_nir(*args: Any, **kwargs: Any) -> Any:
    from .nir_io import from_nir as impl

    return impl(*args, **kwargs)


def to_nir(*args: Any, **kwargs: Any) -> Any:
    from .nir_io import to_nir as impl

    return impl(*args, **kwargs)


def save(*args: Any, **kwargs: Any) -> None:
    from .storage import save as impl

    impl(*args, **kwargs)


def load(*args: Any, **kwargs: Any) -> Any:
    from .storage import load as impl

    return impl(*args, **kwargs)
