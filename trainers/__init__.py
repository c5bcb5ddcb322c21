"""Trainer registry: official model name -> "module:Class", imported only when used.

The built-in models are found, not listed: every module in this package is read (parsed, not
imported) for a class that subclasses `Trainer` and sets `name`. A new model is its module (and
a grid); nothing here changes.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from tuner.data.versions import installed_versions
from tuner.params import RUN_PARAMS

if TYPE_CHECKING:
    from trainers.base import Trainer
    from tuner.data.inputs import SharedStep, StepInputs


def _declared_trainers(path: Path) -> dict[str, str]:
    """Official name -> "module:Class" of each Trainer subclass a module declares."""
    text = path.read_text(encoding="utf-8")
    if "Trainer)" not in text:
        return {}  # a helper module (neural, adapters...): not worth parsing
    found = {}
    for node in ast.parse(text).body:
        if isinstance(node, ast.ClassDef) and any(_names_trainer(b) for b in node.bases):
            name = next(filter(None, map(_literal_name, node.body)), None)
            if name is not None:
                found[name] = f"trainers.{path.stem}:{node.name}"
    return found


def _names_trainer(base: ast.expr) -> bool:
    return (isinstance(base, ast.Name) and base.id == "Trainer") or (
        isinstance(base, ast.Attribute) and base.attr == "Trainer")


def _literal_name(statement: ast.stmt) -> str | None:
    """The string of `name = "X"` or `name: ClassVar[str] = "X"`, else None."""
    targets: list[ast.expr]
    if isinstance(statement, ast.AnnAssign):
        targets, value = [statement.target], statement.value
    elif isinstance(statement, ast.Assign):
        targets, value = statement.targets, statement.value
    else:
        return None
    named = any(isinstance(t, ast.Name) and t.id == "name" for t in targets)
    is_text = isinstance(value, ast.Constant) and isinstance(value.value, str)
    return value.value if named and is_text else None  # type: ignore[union-attr]


def _builtin() -> dict[str, str]:
    found: dict[str, str] = {}
    for path in sorted(Path(__file__).parent.glob("*.py")):
        if not path.stem.startswith("_"):
            found |= _declared_trainers(path)
    return found


BUILTIN: dict[str, str] = _builtin()
EXTRA_VARIABLE = "TUNER_TRAINERS"  # "Name=module:Class,Other=module:Class" adds plug-in trainers


def registry() -> dict[str, str]:
    """Built-in trainers plus plug-ins named in $TUNER_TRAINERS (workers inherit it)."""
    names = dict(BUILTIN)
    for item in filter(None, os.environ.get(EXTRA_VARIABLE, "").split(",")):
        name, _, target = item.partition("=")
        names[name.strip()] = target.strip()
    return names


def canonical_name(name: str) -> str | None:
    """The official spelling of a model name given in any case ('prodlda' -> 'ProdLDA')."""
    lookup = {n.lower(): n for n in registry()}
    return lookup.get(name.strip().lower())


def load_trainer(name: str) -> type[Trainer]:
    """Import and return the trainer class registered under `name` (any case).

    Raises:
        KeyError: no trainer is registered under `name`.
        TypeError: the registered class does not subclass trainers.base.Trainer, or names a
            parameter as trial runs name what they log beside it (tuner.params.RUN_PARAMS).
    """
    from trainers.base import Trainer

    official = canonical_name(name)
    if official is None:
        raise KeyError(name)
    target = registry()[official]
    module_name, _, class_name = target.partition(":")
    found = getattr(importlib.import_module(module_name), class_name)
    if not isinstance(found, type) or Trainer not in found.__mro__:
        raise TypeError(f"{official} ({target}) must be a class that subclasses "
                        "trainers.base.Trainer")
    trainer = cast("type[Trainer]", found)
    taken = sorted(set(trainer.params.names) & set(RUN_PARAMS))
    if taken:  # a plug-in's `seed`, read back from its runs, would be lost
        raise TypeError(f"{official} ({target}): parameter names {taken} are taken by what "
                        f"every trial run logs beside a model's ({', '.join(RUN_PARAMS)})")
    plugin_source(trainer)  # its files read now, beside the import (see plugin_source)
    return trainer


def remember_plugin_sources() -> None:
    """Read the files of the plug-ins imported so far: the fork server calls it after its
    imports, so that a worker forked from it keys the code the server imported."""
    for name, target in registry().items():
        if target.partition(":")[0] in sys.modules:
            load_trainer(name)


def trainer_revision(name: str) -> int | None:
    """The trainer's `revision` (raised by fixes that change results), None before the first."""
    return load_trainer(name).revision


def trainer_code(name: str) -> dict[str, str]:
    """What of the code behind a model its fits depend on, besides its `revision`: the class that
    implements it (a plug-in registered under a built-in's name is another model), for a
    plug-in the source of its own modules (plugin_source), and the installed version of each
    library it declares (`Trainer.libraries`). Part of the fit key."""
    trainer = load_trainer(name)
    code = {"implementation": f"{trainer.__module__}:{trainer.__qualname__}"}
    source = plugin_source(trainer)
    if source is not None:
        code["plugin_source"] = source
    return code | installed_versions(trainer.libraries)


_SOURCE_DIGESTS: dict[str, str] = {}  # module name -> digest of its file, read once


def plugin_source(trainer: type[Trainer]) -> str | None:
    """A digest of the files of the modules outside this package that define the trainer's
    class and its bases (a plug-in's own code), None for a built-in. A plug-in's `revision` is
    its author's to raise, and may not be raised: without this digest an edited plug-in keeps
    its key, and a re-run skips its trials with the old code's scores. Built-ins keep to their
    `revision`, so that an upgrade that changes no result re-runs nothing. Each file is read
    once per process, as load_trainer imports it (and in the fork server, after its imports),
    so the digest names the code that runs here even when the file changes later (a warm
    worker of `tuner serve` keeps the module it imported)."""
    from trainers.base import Trainer

    modules = sorted({cls.__module__ for cls in trainer.__mro__
                      if Trainer in cls.__mro__ and not _is_builtin(cls.__module__)})
    if not modules:
        return None
    digest = hashlib.sha256()
    for module in modules:
        digest.update(f"{module}\0{_module_digest(module)}\0".encode())
    return digest.hexdigest()[:16]


def _is_builtin(module: str) -> bool:
    return module == "trainers" or module.startswith("trainers.")


def _module_digest(module: str) -> str:
    if module not in _SOURCE_DIGESTS:
        loaded = sys.modules.get(module)
        path = getattr(loaded, "__file__", None)
        try:
            _SOURCE_DIGESTS[module] = hashlib.sha256(Path(path).read_bytes()).hexdigest() \
                if path else "no-file"
        except OSError:
            _SOURCE_DIGESTS[module] = "unreadable"
    return _SOURCE_DIGESTS[module]


# Side inputs (beyond the bag of words and embeddings) a trainer's fit may read.
SIDE_INPUTS = frozenset({"labels", "timestamps", "covariates"})


def fit_inputs(name: str, params: Mapping[str, Any] | None = None) -> frozenset[str]:
    """The side inputs a trainer's fit may read: those it requires plus those it reads when the
    dataset has them (`reads`, e.g. STM's covariates), less, given a trial's `params`, a read
    that only other settings use (`requires_when`: THETA reads labels in mode supervised alone,
    and a relabelled corpus refitted its zero-shot trials rather than re-scoring them). They go
    into its trials' fit keys, and the worker withholds every other one from it, so no fit can
    depend on what its key omits."""
    trainer = load_trainer(name)
    reads = (frozenset(trainer.requires) | trainer.reads) & SIDE_INPUTS
    if params is None:
        return reads
    unused = {need for need, (param, value) in trainer.requires_when.items()
              if need in trainer.reads and params.get(param) != value}
    return reads - unused


def label_training(name: str, params: Mapping[str, Any]) -> str | None:
    """The setting under which a fit of `name` with `params` trains on the ground truth's labels
    ("mode=supervised" for THETA), which ARI, NMI and F1 then compare it with; None when it
    does not, or when `name` is no longer registered (a row a plug-in logged)."""
    try:
        trainer = load_trainer(name)
    except (KeyError, TypeError, ImportError):
        return None
    if "labels" not in fit_inputs(name, params):
        return None
    when = trainer.requires_when.get("labels")
    return f"{when[0]}={when[1]}" if when is not None else "every setting"


def remedy(name: str, concern: str, params: Mapping[str, Any]) -> str:
    """What to change in a fit of model `name` with `params` for `concern` (Trainer.remedy); ""
    when it says nothing or is no longer registered."""
    try:
        return load_trainer(name).remedy(concern, params)
    except (KeyError, TypeError, ImportError):
        return ""


def shared_steps(name: str, params: Mapping[str, Any], inputs: StepInputs) -> list[SharedStep]:
    """The work a trial of this trainer shares with others (see Trainer.shared_steps)."""
    return list(load_trainer(name).shared_steps(params, inputs))
