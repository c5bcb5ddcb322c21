"""Plug-in trainers for runner tests, registered through $TUNER_TRAINERS like a user's own.

`Flaky` fits a real LDA but raises for one seed: the runner must record that trial FAILED and
finish the others. Its failures are real exceptions raised in a real worker process.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from trainers.base import Requirement, Trainer
from trainers.lda import LDATrainer
from tuner.data.inputs import FitContext, SharedStep, StepInputs, TrialData
from tuner.data.store import ArrayCache
from tuner.output import TopicModelOutput
from tuner.params import NUM_TOPICS, VOCAB_SIZE, Param, ParamSchema, anything, between, one_of

FAILING_SEED = 13
NAP_SECONDS = 3600
HOG_MB = 1500


class FlakyTrainer(Trainer):
    name: ClassVar[str] = "Flaky"
    requires: ClassVar[frozenset[Requirement]] = frozenset({"bow"})
    params: ClassVar[ParamSchema] = ParamSchema("Flaky", [
        NUM_TOPICS, VOCAB_SIZE,
        Param("max_iter", int, 10, between(10, 500), "Gibbs iterations"),
        Param("crash", str, "raise",
              one_of("raise", "abort", "hang", "hog", "spike", "assert", "exit"),
              "how the failing seed fails: raise, abort the process, hang, hog memory, touch "
              "memory for a moment and finish, a bare assert (no message) or sys.exit(3)"),
    ])

    def fit(self, data: TrialData, params: Mapping[str, Any], ctx: FitContext
            ) -> TopicModelOutput:
        if ctx.seed == FAILING_SEED and params["crash"] == "spike":
            np.ones((HOG_MB * 2**20) // 8).sum()  # resident for a moment, then freed
        elif ctx.seed == FAILING_SEED:
            fail(params["crash"], ctx.seed)
        return fit_lda(data, params, ctx, params["max_iter"])


def fit_lda(data: TrialData, params: Mapping[str, Any], ctx: FitContext,
            max_iter: int) -> TopicModelOutput:
    """A real LDA fit with the plug-in's topic count and vocabulary."""
    lda_params = LDATrainer.params.with_defaults({
        "num_topics": params["num_topics"], "vocab_size": params["vocab_size"],
        "max_iter": max_iter})
    return LDATrainer().fit(data, lda_params, ctx)


def fail(how: str, seed: int) -> None:
    if how == "assert":
        raise AssertionError  # str() is "": a bare `assert` in a library
    if how == "exit":
        sys.exit(3)  # a library that ends "the program"
    if how == "abort":
        os.abort()
    if how == "hang":
        time.sleep(3600)
    if how == "hog":
        hog = np.ones((HOG_MB * 2**20) // 8)  # touches every page: real resident memory
        time.sleep(3600)
        del hog
    raise RuntimeError(f"deliberate failure for seed {seed}")


class SlowStepTrainer(Trainer):
    """Fits a real LDA; with `step` "hang" its trials share a step (and, computing it in the fit
    after a failed step, a fit) that never ends, so the sweep's time limit must stop it."""

    name: ClassVar[str] = "SlowStep"
    requires: ClassVar[frozenset[Requirement]] = frozenset({"bow"})
    params: ClassVar[ParamSchema] = ParamSchema("SlowStep", [
        NUM_TOPICS, VOCAB_SIZE,
        Param("step", str, "none", one_of("none", "hang"), "whether trials share a hanging step"),
    ])

    @staticmethod
    def shared_steps(params: Mapping[str, Any], inputs: StepInputs) -> list[SharedStep]:
        return [SharedStep("nap", {"seed": inputs.seed})] if params["step"] == "hang" else []

    @staticmethod
    def run_shared_step(step: SharedStep, data: TrialData, params: Mapping[str, Any],
                        ctx: FitContext) -> bool:
        time.sleep(NAP_SECONDS)
        return False

    def fit(self, data: TrialData, params: Mapping[str, Any], ctx: FitContext
            ) -> TopicModelOutput:
        if params["step"] == "hang":
            time.sleep(NAP_SECONDS)
        return fit_lda(data, params, ctx, 10)


class _AdjustedLda(Trainer):
    """Fits a real 10-iteration LDA, then `adjusted` changes its output."""

    requires: ClassVar[frozenset[Requirement]] = frozenset({"bow"})

    def fit(self, data: TrialData, params: Mapping[str, Any], ctx: FitContext
            ) -> TopicModelOutput:
        return self.adjusted(fit_lda(data, params, ctx, 10), data, ctx)

    def adjusted(self, output: TopicModelOutput, data: TrialData, ctx: FitContext
                 ) -> TopicModelOutput:
        return output


class LumpyTrainer(_AdjustedLda):
    """Gives every document to its first topic: a collapsed fit."""

    name: ClassVar[str] = "Lumpy"
    params: ClassVar[ParamSchema] = ParamSchema("Lumpy", [NUM_TOPICS, VOCAB_SIZE])

    def adjusted(self, output: TopicModelOutput, data: TrialData, ctx: FitContext
                 ) -> TopicModelOutput:
        return dataclasses.replace(output, doc_topic=None,
                                   assignments=np.zeros(data.bow.n_docs, dtype=np.int64))


class SeedyTrainer(_AdjustedLda):
    """Declares a parameter named `seed`, which trial runs log for themselves: refused."""

    name: ClassVar[str] = "Seedy"
    params: ClassVar[ParamSchema] = ParamSchema("Seedy", [NUM_TOPICS, VOCAB_SIZE, Param(
        "seed", int, 1, between(0, 10), "its own seed")])


class ThreadsTrainer(_AdjustedLda):
    """Reports the native threads its fit was given (`fit_threads`)."""

    name: ClassVar[str] = "Threads"
    params: ClassVar[ParamSchema] = ParamSchema("Threads", [NUM_TOPICS, VOCAB_SIZE])

    def adjusted(self, output: TopicModelOutput, data: TrialData, ctx: FitContext
                 ) -> TopicModelOutput:
        return dataclasses.replace(output, extras={**output.extras, "fit_threads": ctx.threads})


class ScribblerTrainer(_AdjustedLda):
    """Fits a real LDA, then, as another process could during a fit, writes over the first half
    of its bag of words' cached tokens in place (`touch` "write"), or changes only their file's
    mode ("chmod")."""

    name: ClassVar[str] = "Scribbler"
    params: ClassVar[ParamSchema] = ParamSchema("Scribbler", [
        NUM_TOPICS, VOCAB_SIZE,
        Param("touch", str, "write", one_of("write", "chmod"), "what it does to the file"),
        Param("derive", bool, False, anything(), "then cache a matrix derived from its "
              "inputs, as a UMAP reduction or word vectors are")])

    def adjusted(self, output: TopicModelOutput, data: TrialData, ctx: FitContext
                 ) -> TopicModelOutput:
        assert ctx.cache_dir is not None
        for tokens in Path(ctx.cache_dir).glob("bow/*/flat.npy"):
            if self.touch == "chmod":
                tokens.chmod(tokens.stat().st_mode ^ 0o040)  # group read flipped
            else:
                zero_first_half(tokens)
        if self.derive:
            ArrayCache(Path(ctx.cache_dir) / "derived", "derived").get_or_compute(
                {"of": "the bag"}, lambda: np.ones((2, 2)))
        return output

    def fit(self, data: TrialData, params: Mapping[str, Any], ctx: FitContext
            ) -> TopicModelOutput:
        self.touch, self.derive = params["touch"], params["derive"]
        return super().fit(data, params, ctx)


def zero_first_half(array_file: Path) -> None:
    """Zero the first half of a .npy file's values in place (same file, same size)."""
    header = len(array_file.read_bytes()) - np.load(array_file, mmap_mode="r").nbytes
    with array_file.open("r+b") as handle:
        handle.seek(header)
        handle.write(bytes((array_file.stat().st_size - header) // 2))
