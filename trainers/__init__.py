"""Trainer registry: official model name -> "module:Class", imported only when used."""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from trainers.base import Trainer
    from tuner.data.inputs import SharedStep

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
    """Import and return the trainer class registered under `name` (any case)."""
    official = canonical_name(name)
    if official is None:
        raise KeyError(name)
    module_name, _, class_name = registry()[official].partition(":")
    return getattr(importlib.import_module(module_name), class_name)  # type: ignore[no-any-return]


def trainer_revision(name: str) -> int | None:
    """The trainer's `revision` (raised by fixes that change results), None when it has none."""
    revision = getattr(load_trainer(name), "revision", None)
    return int(revision) if revision is not None else None


# Side inputs (beyond the bag of words and embeddings) a trainer's fit may read.
SIDE_INPUTS = frozenset({"labels", "timestamps", "covariates"})


def fit_inputs(name: str) -> frozenset[str]:
    """The side inputs a trainer's fit may read: those it requires plus those it reads when the
    dataset has them (`reads`, e.g. STM's covariates). They go into its trials' fit keys, and the
    worker withholds every other one from it, so no fit can depend on what its key omits."""
    trainer = load_trainer(name)
    declared = frozenset(trainer.requires) | frozenset(getattr(trainer, "reads", ()))
    return declared & SIDE_INPUTS


def shared_steps(name: str, params: Mapping[str, Any],
                 embedding_key: str | None) -> list[SharedStep]:
    """The work a trial of this trainer shares with others (see SharedStep); a trainer declares
    it with `shared_steps(params, embedding_key)` and computes it in `run_shared_step`."""
    declare = getattr(load_trainer(name), "shared_steps", None)
    return list(declare(params, embedding_key)) if declare is not None else []
