"""Installed distributions' versions, for the keys of caches and fits (read from their
metadata, never by importing them)."""

from __future__ import annotations

import functools
import importlib.metadata
from collections.abc import Iterable


@functools.cache
def installed_version(distribution: str) -> str:
    """A distribution's installed version ("absent" when it is not installed)."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "absent"


def installed_versions(distributions: Iterable[str]) -> dict[str, str]:
    """Each distribution's installed version, by name: what a key holds of the code behind a
    result (a trainer's libraries, an encoder's, a cache's)."""
    return {name: installed_version(name) for name in distributions}
