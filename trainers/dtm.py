"""DTM as D-ETM (Dieng, Ruiz & Blei 2019): ETM topic embeddings that drift over time slices."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from trainers.base import (
    NEURAL_MIN_DOCUMENTS,
    BudgetAdvice,
    Requirement,
    Trainer,
    empty_documents,
    top_words,
)
from trainers.etm import EMBEDDING_DIM
from trainers.time_slices import TIME_SLICE_RULE, TimeSlices, slice_documents
from trainers.word_vectors import Word2VecStep, word_embeddings
from tuner.data.inputs import FitContext, TrialData
from tuner.data.timestamps import parse_timestamps
from tuner.errors import DataError
from tuner.output import TopicModelOutput
from tuner.params import (
    BATCH_SIZE,
    EPOCHS,
    HIDDEN_DIM,
    LEARNING_RATE,
    NUM_TOPICS,
    VOCAB_SIZE,
    Param,
    ParamSchema,
)

if TYPE_CHECKING:
    from numpy.typing import NDArray
    from torch import nn

TIME_SLICES = Param(
    "time_slices", str, "year", TIME_SLICE_RULE,
    "time slices: 'year' (one per calendar year) or 'bins:N' (N slices of equal document count, "
    "in date order); a tuner extension beyond parameters.md",
)
class DTMTrainer(Word2VecStep, Trainer):
    """Dynamic topic model (D-ETM). `time_slices` is "year" or "bins:N" (a string parameter).

    Metrics read the whole-corpus output (topic_word = mean over slices); the per-slice top words
    of every topic go to extras["slice_top_words"] ({slice label: K word lists}), and each
    topic's mean proportion θ in each slice's documents to extras["slice_topic_share"].
    """

    name: ClassVar[str] = "DTM"
    budget_param: ClassVar[str | None] = "epochs"
    min_documents: ClassVar[int] = NEURAL_MIN_DOCUMENTS
    budget_advice: ClassVar[BudgetAdvice | None] = BudgetAdvice(  # it has no early stopping
        below=300, suggested=300,
        measured="on 110 UN speeches its held-out loss was lowest at its last epoch at 20, 100 "
                 "and 300 epochs alike, and its NPMI -0.334, -0.230 and -0.029 (at 100, 46% of "
                 "its topics' top words were still those of its initial weights)")
    # 2: conditioned word vectors, N(0, I) topics, log counts; 3: ETM's skip-gram settings,
    # validation on the posterior mean
    # 4: sparse batches and fused Adam (sums in another order); 5: bins of tied dates get
    # labels of their own, so slice_top_words keeps every slice (it kept one per distinct span)
    # 6: extras slice_topic_share (each topic's mean θ per slice, wordless documents left out)
    revision: ClassVar[int] = 6
    requires: ClassVar[frozenset[Requirement]] = frozenset({"bow", "timestamps"})
    libraries: ClassVar[tuple[str, ...]] = ("numpy", "torch", "gensim")
    thread_sensitive: ClassVar[bool] = True
    warm_imports: ClassVar[tuple[str, ...]] = ("trainers.nets.dtm",)
    params: ClassVar[ParamSchema] = ParamSchema("DTM", [
        NUM_TOPICS, VOCAB_SIZE, EPOCHS, BATCH_SIZE, LEARNING_RATE, HIDDEN_DIM, EMBEDDING_DIM,
        TIME_SLICES,
    ])

    def fit(self, data: TrialData, params: Mapping[str, Any], ctx: FitContext
            ) -> TopicModelOutput:
        from trainers.nets.dtm import DTMNet
        from trainers.neural import fit_vae

        corpus = data.corpus
        if corpus.timestamps is None:
            raise DataError(f"{corpus.source}: dataset.timestamp_field: DTM needs timestamps; "
                            "name the field that holds them")
        dates = parse_timestamps(corpus.timestamps, corpus.ids, corpus.source)
        slices = slice_documents(dates, params["time_slices"])
        rho, hit = word_embeddings(data.bow, params["embedding_dim"], ctx.seed, ctx.cache_dir)
        output = fit_vae(lambda: DTMNet(rho, slices.count, params["num_topics"],
                                        params["hidden_dim"], data.bow.n_docs),
                         data, params, ctx, inputs={"slice": slices.index.astype(np.float32)},
                         extras=lambda net: {
                             "num_slices": slices.count,
                             "slice_top_words": _slice_top_words(net, slices.labels, data, ctx),
                             "word2vec_cache": "hit" if hit else "computed"})
        return replace(output, extras={**output.extras, "slice_topic_share": slice_topic_share(
            output.doc_topic, slices, empty_documents(data))})


def _slice_top_words(net: nn.Module, labels: list[str], data: TrialData, ctx: FitContext
                     ) -> dict[str, list[list[str]]]:
    """{slice label: each topic's top words in that slice}."""
    import torch

    with torch.no_grad():
        per_slice = net.slice_topic_word().double().cpu().numpy()  # type: ignore[operator]
    return {label: top_words(per_slice[t], data.bow.vocab, ctx.top_n)
            for t, label in enumerate(labels)}


def slice_topic_share(doc_topic: NDArray[np.float64] | None, slices: TimeSlices,
                      empty: NDArray[np.bool_]) -> dict[str, list[float]]:
    """{slice label: each topic's mean proportion θ in that slice's documents} (summing to 1):
    how much of each period a topic takes, the trend a dynamic model is read for. Documents with no
    word in the vocabulary are in no topic (their θ is the encoder's answer to nothing), and a
    slice of only such documents has no shares."""
    if doc_topic is None:
        return {}
    kept = [(label, (slices.index == t) & ~empty) for t, label in enumerate(slices.labels)]
    return {label: [round(float(x), 4) for x in doc_topic[members].mean(axis=0)]
            for label, members in kept if members.any()}
