"""Reading TOML files (hardware profiles, sweep configurations) with errors that name the file."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from .errors import ConfigError


def _toml_module() -> Any:
    if sys.version_info >= (3, 11):
        import tomllib

        return tomllib
    try:  # pragma: no cover - Python 3.10
        import tomli  # type: ignore[import-not-found, unused-ignore]
    except ImportError as exc:  # pragma: no cover
        raise ConfigError("reading TOML on Python 3.10 needs the tomli package: pip install tomli") from exc
    return tomli  # pragma: no cover


def read_toml(path: Path, what: str) -> dict[str, Any]:
    """The parsed file; ConfigError naming the file (and ``what`` it should be) when it cannot be read."""
    tomllib = _toml_module()
    try:
        with path.open("rb") as handle:
            data: dict[str, Any] = tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc}") from exc
    return data
