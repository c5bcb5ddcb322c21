"""Installed distributions' versions, for the keys of caches and fits (read from their
metadata, never by importing them)."""

from __future__ import annotations

import functools
import importlib.metadata


@functools.cache
def installed_version(distribution: str) -> str:
    """A distribution's installed version ("absent" when it is not installed)."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "absent"
