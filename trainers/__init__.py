"""Trainer registry: official model name -> "module:Class", imported only when used."""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from trainers.base import Trainer

BUILTIN: dict[str, str] = {
    "LDA": "trainers.lda:LDATrainer",
    "BERTopic": "trainers.bertopic:BERTopicTrainer",
    "ProdLDA": "trainers.prodlda:ProdLDATrainer",
    "HDP": "trainers.hdp:HDPTrainer",
    "STM": "trainers.stm:STMTrainer",
    "BTM": "trainers.btm:BTMTrainer",
    "NVDM": "trainers.nvdm:NVDMTrainer",
    "GSM": "trainers.gsm:GSMTrainer",
    "ETM": "trainers.etm:ETMTrainer",
    "CTM": "trainers.ctm:CTMTrainer",
    "DTM": "trainers.dtm:DTMTrainer",
    "THETA": "trainers.theta:THETATrainer",
}
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
        TypeError: the registered class does not subclass trainers.base.Trainer.
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
    return found


def trainer_revision(name: str) -> int | None:
    """The trainer's `revision` (raised by fixes that change results), None before the first."""
    return load_trainer(name).revision
