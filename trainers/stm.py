"""STM (Roberts et al. 2014, 2016): the structural topic model with topic-prevalence covariates.

Model (as in R's `stm` without content covariates): document d has covariates x_d (an intercept,
categorical fields one-hot against their first level in sorted order, numeric fields as they
are); its topic log-ratios η_d ~ N(x_d Γ, Σ) over the first K-1 topics (topic K is the reference
with η = 0); θ_d = softmax(η_d); every token draws a topic from θ_d and a word from β_topic.

Fit: variational EM with a Laplace approximation of each q(η_d) = N(λ_d, ν_d), as stm does.
- E-step: per document, coordinate ascent between the token responsibilities φ (given λ_d,
  φ_dvk ∝ θ_dk β_kv) and λ_d (a Newton step on the bound with φ fixed: gradient
  -Σ⁻¹(λ-μ) + n_d,1:K-1 - N_d θ_1:K-1, Hessian -Σ⁻¹ - N_d(diag θ - θθᵀ)), repeated until λ moves
  by less than E_STEP_TOLERANCE on average (at most MAX_INNER_STEPS rounds; λ is warm-started
  across EM iterations); ν_d is the inverse negative Hessian at the end. All documents are updated
  together, vectorised in numpy/scipy; stm optimises each document's full objective with BFGS
  instead, which reaches the same optimum.
- M-step: β from the expected word counts (maximum likelihood, as in stm), Γ by ridge regression
  of λ on x (a weak N(0, 1/GAMMA_RIDGE) prior on the non-intercept rows; stm's default is a
  pooled normal prior), Σ = mean(ν_d + (λ_d - μ_d)(λ_d - μ_d)ᵀ) (stm with sigma.prior = 0).
- Stops when the relative change of the approximate bound falls below `em_tol` (stm's emtol,
  default 1e-5) or after `max_iter` EM iterations; extras["em_iterations"] and
  extras["em_converged"] say which.
- Initialisation (`init`): "spectral", stm's default: β from anchor words (Arora et al. 2013, as
  stm's spectral init: the row-normalised word co-occurrence matrix, greedy anchor selection by
  Gram-Schmidt, each word's distribution over anchors by exponentiated gradient), Σ₀ = 20 I and
  λ = 0 as stm.init sets them; deterministic: the fit reads no seed, so a grid's seeds make one
  trial of it (Trainer.uses_seed). Dense V x V, cheap at V <= 5,000. "random": seeded random
  topics (stm's init.type = "Random").

With no covariate (or only constant ones) x_d is the intercept alone: the correlated topic model
(Blei & Lafferty 2007), and extras["mode"] says "ctm". extras["covariate_effects"] reports Γ per
covariate column and topic, as the change in log θ_k (against the mean log θ over topics) per unit
of the covariate; for a categorical level, against the field's reference level.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from trainers.base import Requirement, Trainer, assignments_from, empty_documents, top_words
from tuner.data.corpus import level_text
from tuner.data.inputs import FitContext, TrialData
from tuner.errors import TrainerError
from tuner.output import TopicModelOutput
from tuner.params import NUM_TOPICS, VOCAB_SIZE, Param, ParamSchema, between, one_of

E_STEP_TOLERANCE = 1e-3  # mean |λ_dk change| at which the E-step stops (the largest never fell
# below it within 20 rounds on 20ng-mini: a few documents keep moving)
MAX_INNER_STEPS = 5  # φ/λ coordinate-ascent rounds per E-step at most (λ is warm-started)
SIGMA_START = 20.0  # Σ₀ = 20 I, as stm.init
SIMPLEX_WEIGHT = 1e3  # weight of the sum-to-one row in RecoverL2's least squares
GAMMA_RIDGE = 1.0  # prior precision on covariate coefficients (not on the intercept)
SIGMA_JITTER = 1e-4  # added to Σ's diagonal, keeps it invertible with few documents
MAX_NEWTON_STEP = 3.0  # largest change of any λ_dk in one Newton step
BETA_FLOOR = 1e-12
CHUNK = 2048  # documents per batched (K-1)x(K-1) solve, bounds memory for large K


@dataclass(frozen=True)
class Design:
    """The prevalence design matrix x (intercept first) and a name per column."""

    matrix: NDArray[np.float64]
    columns: list[str]
    references: dict[str, str]  # categorical field -> its reference level


class STMTrainer(Trainer):
    """Structural topic model: topic prevalence regressed on document covariates."""

    name: ClassVar[str] = "STM"
    budget_param: ClassVar[str | None] = "max_iter"
    requires: ClassVar[frozenset[Requirement]] = frozenset({"bow"})
    libraries: ClassVar[tuple[str, ...]] = ("numpy", "scipy")
    thread_sensitive: ClassVar[bool] = True
    reads: ClassVar[frozenset[Requirement]] = frozenset({"covariates"})  # when the dataset has them
    # 2: spectral start, Σ₀ = 20 I, E-step to convergence; 3: a categorical covariate's 1, 1.0
    # and "1" are one level (they were two); 4: covariate effects to six significant figures
    revision: ClassVar[int] = 4
    params: ClassVar[ParamSchema] = ParamSchema("STM", [
        NUM_TOPICS,
        VOCAB_SIZE,
        Param("max_iter", int, 100, between(10, 500), "EM iterations"),
        Param("em_tol", float, 1e-5, between(0.0, 0.01), "EM stops when the bound's relative "
              "change falls below this (stm's emtol; extension)"),
        Param("init", str, "spectral", one_of("spectral", "random"),
              "initial topics: anchor words (stm's default) or random (extension)"),
    ])

    @staticmethod
    def uses_seed(params: Mapping[str, Any]) -> bool:
        return bool(params["init"] != "spectral")

    def fit(self, data: TrialData, params: Mapping[str, Any], ctx: FitContext
            ) -> TopicModelOutput:
        design = prevalence_design(data.corpus.covariates, data.bow.n_docs)
        counts = data.bow.matrix().astype(np.float64).tocsr()

        def output(fit: _Fit) -> TopicModelOutput:
            return _output(fit, design, data, float(counts.sum()), ctx.top_n)

        fit = _fit_em(counts, design.matrix, params, ctx.seed,
                      lambda so_far: ctx.checkpoint(so_far.iterations, lambda: output(so_far),
                                                    so_far.converged))
        return output(fit)


def _output(fit: _Fit, design: Design, data: TrialData, tokens: float, top_n: int
            ) -> TopicModelOutput:
    doc_topic = _softmax(fit.lam)
    empty = empty_documents(data)
    doc_topic[empty] = _softmax(design.matrix[empty] @ fit.gamma)  # the prior mean
    mode = "stm" if design.matrix.shape[1] > 1 else "ctm"
    extras: dict[str, Any] = {"mode": mode, "em_iterations": fit.iterations,
                              "em_converged": int(fit.converged),
                              "e_step_rounds": fit.inner_rounds,
                              "bound_per_word": fit.bound / max(tokens, 1.0)}
    if mode == "stm":
        extras["covariate_effects"] = covariate_effects(design, fit.gamma)
    return TopicModelOutput(top_words(fit.beta, data.bow.vocab, top_n), doc_topic,
                            assignments_from(doc_topic, empty), fit.beta, extras)


def prevalence_design(covariates: Mapping[str, Sequence[Any]], n_docs: int) -> Design:
    """Intercept, then per field: numeric values as they are, or one-hot levels but the first."""
    columns: list[NDArray[np.float64]] = [np.ones(n_docs)]
    names = ["(intercept)"]
    references: dict[str, str] = {}
    for field, values in covariates.items():
        if len(values) != n_docs:
            raise TrainerError(f"STM: covariate '{field}' has {len(values)} values for "
                               f"{n_docs} documents")
        missing = sum(v is None for v in values)
        if missing:
            raise TrainerError(f"STM: covariate '{field}' is null in {missing} documents; "
                               "fill it in or drop the field from dataset.covariates")
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            columns.append(np.asarray(values, dtype=np.float64))
            names.append(field)
            continue
        text = [level_text(v) for v in values]  # 1, 1.0 and "1": one level
        levels = sorted(set(text))
        references[field] = levels[0]
        for level in levels[1:]:
            columns.append(np.array([t == level for t in text], dtype=np.float64))
            names.append(f"{field}={level}")
    return Design(np.column_stack(columns), names, references)


def covariate_effects(design: Design, gamma: NDArray[np.float64]) -> dict[str, Any]:
    """Γ per covariate column and topic, centred over topics (identifiable, comparable)."""
    full = np.hstack([gamma, np.zeros((gamma.shape[0], 1))])
    centred = full - full.mean(axis=1, keepdims=True)
    return {
        "scale": "change in log theta_k against the mean over topics, per unit of the covariate "
                 "(categorical: this level against the reference level)",
        "reference_levels": design.references,
        # six significant figures: six decimals read a covariate in seconds since 1970 as
        # "no effect" (every value 0.0)
        "effects": {name: [float(f"{float(x):.6g}") for x in centred[i]]
                    for i, name in enumerate(design.columns) if i > 0},
    }


@dataclass(frozen=True)
class _Fit:
    lam: NDArray[np.float64]  # n x (K-1) variational means
    gamma: NDArray[np.float64]  # P x (K-1) prevalence coefficients
    beta: NDArray[np.float64]  # K x V topic-word distributions
    iterations: int
    bound: float
    converged: bool
    inner_rounds: int  # φ/λ rounds over all E-steps


def _fit_em(counts: sp.csr_matrix, x: NDArray[np.float64], params: Mapping[str, Any],
            seed: int, after_iteration: Callable[[_Fit], bool] | None = None) -> _Fit:
    """EM to convergence or max_iter; `after_iteration` (the sweep's pruner) sees the fit after
    each iteration and may stop it there."""
    k = params["num_topics"]
    n_docs = counts.shape[0]
    lengths = np.asarray(counts.sum(axis=1)).ravel()
    if params["init"] == "spectral":
        beta = spectral_topics(counts, k)
    else:
        beta = _random_topics(counts, k, np.random.default_rng(seed))
    lam = np.zeros((n_docs, k - 1))
    gamma = np.zeros((x.shape[1], k - 1))
    sigma = SIGMA_START * np.eye(k - 1)
    previous = -np.inf
    bound, iterations, converged, inner_rounds = previous, 0, False, 0
    while iterations < params["max_iter"] and not converged:
        iterations += 1
        precision = np.asarray(np.linalg.inv(sigma), dtype=np.float64)
        mu = x @ gamma
        lam, word_stats, loglik, rounds = _e_step(counts, lam, beta, mu, precision, lengths)
        inner_rounds += rounds
        nu_sum, logdet_sum = _laplace_covariance(lam, precision, lengths)
        beta = word_stats + BETA_FLOOR
        beta /= beta.sum(axis=1, keepdims=True)
        gamma = _regress(x, lam)
        sigma = _covariance(lam - x @ gamma, nu_sum, n_docs)
        bound = _bound(loglik, lam - mu, precision, nu_sum, logdet_sum, n_docs)
        converged = bool(np.isfinite(previous)
                         and abs(bound - previous) <= params["em_tol"] * abs(previous))
        previous = bound
        so_far = _Fit(lam, gamma, beta, iterations, float(bound), converged, inner_rounds)
        if after_iteration is not None and after_iteration(so_far):
            return so_far
    return _Fit(lam, gamma, beta, iterations, float(bound), converged, inner_rounds)


def _e_step(counts: sp.csr_matrix, lam: NDArray[np.float64], beta: NDArray[np.float64],
            mu: NDArray[np.float64], precision: NDArray[np.float64],
            lengths: NDArray[np.float64]
            ) -> tuple[NDArray[np.float64], NDArray[np.float64], float, int]:
    """φ/λ coordinate ascent until λ settles; β and the bound use the last φ, saving a pass."""
    rounds = 0
    while rounds < MAX_INNER_STEPS:
        rounds += 1
        expected, word_stats, loglik = _responsibilities(counts, lam, beta)
        updated = _newton_step(lam, mu, precision, expected, lengths)
        moved = float(np.abs(updated - lam).mean()) if lam.size else 0.0
        lam = updated
        if moved < E_STEP_TOLERANCE:
            break
    return lam, word_stats, loglik, rounds


def spectral_topics(counts: sp.csr_matrix, k: int) -> NDArray[np.float64]:
    """K x V topics from anchor words, as stm's spectral initialisation computes them."""
    q = _cooccurrence_gram(counts)
    word_prob = q.sum(axis=1)
    q_bar = q / np.maximum(word_prob, 1e-300)[:, None]
    anchors = _fast_anchors(q_bar, k)
    weights = _recover_l2(q_bar, anchors)  # V x K: p(anchor k | word)
    beta = (weights * word_prob[:, None]).T + BETA_FLOOR
    return np.asarray(beta / beta.sum(axis=1, keepdims=True), dtype=np.float64)


def _cooccurrence_gram(counts: sp.csr_matrix) -> NDArray[np.float64]:
    """stm's gram(): the expected word-pair co-occurrence matrix, normalised to sum to 1."""
    lengths = np.asarray(counts.sum(axis=1)).ravel()
    keep = lengths >= 2
    usable, divisor = counts[keep], lengths[keep] * (lengths[keep] - 1)
    scaled = sp.diags(1.0 / np.sqrt(divisor)) @ usable
    q = np.asarray((scaled.T @ scaled).toarray(), dtype=np.float64)
    q[np.diag_indices_from(q)] -= np.asarray((sp.diags(1.0 / divisor) @ usable).sum(axis=0))[0]
    return q / q.sum()


def _fast_anchors(q_bar: NDArray[np.float64], k: int) -> list[int]:
    """Greedy anchor words: the row farthest from the span of those chosen (Gram-Schmidt)."""
    rows = q_bar.copy()
    norms = (rows ** 2).sum(axis=1)
    anchors: list[int] = []
    for _ in range(k):
        anchor = int(np.argmax(norms))
        anchors.append(anchor)
        basis = rows[anchor] / np.sqrt(max(norms[anchor], 1e-300))
        rows -= np.outer(rows @ basis, basis)
        norms = (rows ** 2).sum(axis=1)
        norms[anchors] = 0.0
    return anchors


def _recover_l2(q_bar: NDArray[np.float64], anchors: list[int]) -> NDArray[np.float64]:
    """Each word's row as a convex combination of the anchor rows: least squares on the simplex
    (RecoverL2), per word by non-negative least squares on the K x K normal equations, with the
    sum-to-one constraint as a heavily weighted extra row."""
    from scipy.optimize import nnls

    basis = q_bar[anchors]
    gram = basis @ basis.T
    factor = np.linalg.cholesky(gram + 1e-12 * np.trace(gram) * np.eye(len(anchors)))
    design = np.vstack([factor.T, SIMPLEX_WEIGHT * np.ones(len(anchors))])
    targets = np.linalg.solve(factor, basis @ q_bar.T)  # K x V: L⁻¹ (anchors · word rows)
    weights = np.empty((len(q_bar), len(anchors)))
    for word in range(len(q_bar)):
        rhs = np.append(targets[:, word], SIMPLEX_WEIGHT)
        weights[word] = nnls(design, rhs)[0]
    weights = np.maximum(weights, 0.0)
    return weights / np.maximum(weights.sum(axis=1, keepdims=True), 1e-300)


def _random_topics(counts: sp.csr_matrix, k: int, rng: np.random.Generator
                   ) -> NDArray[np.float64]:
    """Corpus word frequencies with seeded multiplicative noise, one draw per topic."""
    frequency = np.asarray(counts.sum(axis=0)).ravel() + 1.0
    beta = frequency[None, :] * rng.gamma(1.0, 1.0, size=(k, counts.shape[1]))
    return beta / beta.sum(axis=1, keepdims=True)


def _softmax(eta: NDArray[np.float64]) -> NDArray[np.float64]:
    full = np.hstack([eta, np.zeros((eta.shape[0], 1))])
    full -= full.max(axis=1, keepdims=True)
    theta = np.exp(full)
    return theta / theta.sum(axis=1, keepdims=True)


def _responsibilities(counts: sp.csr_matrix, lam: NDArray[np.float64],
                      beta: NDArray[np.float64]
                      ) -> tuple[NDArray[np.float64], NDArray[np.float64], float]:
    """Expected topic counts per document (n x K) and per word (K x V), and the log-likelihood.

    φ_dvk = θ_dk β_kv / Σ_j θ_dj β_jv, summed without ever storing φ (as NMF updates do).
    """
    theta = _softmax(lam)
    rows = np.repeat(np.arange(counts.shape[0]), np.diff(counts.indptr))
    cols = counts.indices
    mixture = np.einsum("ij,ij->i", theta[rows], np.ascontiguousarray(beta.T)[cols])
    ratio = sp.csr_matrix((counts.data / mixture, cols, counts.indptr), shape=counts.shape)
    doc_stats = theta * np.asarray(ratio @ beta.T)
    word_stats = beta * np.asarray(ratio.T @ theta).T
    return doc_stats, word_stats, float(counts.data @ np.log(mixture))


def _newton_step(lam: NDArray[np.float64], mu: NDArray[np.float64],
                 precision: NDArray[np.float64], expected: NDArray[np.float64],
                 lengths: NDArray[np.float64]) -> NDArray[np.float64]:
    """One damped Newton step per document on the bound with φ fixed (concave in λ)."""
    theta = _softmax(lam)[:, :-1]
    gradient = -(lam - mu) @ precision + expected[:, :-1] - lengths[:, None] * theta
    step = np.empty_like(lam)
    for start in range(0, len(lam), CHUNK):
        part = slice(start, start + CHUNK)
        step[part] = np.linalg.solve(_neg_hessian(theta[part], precision, lengths[part]),
                                     gradient[part][:, :, None])[:, :, 0]
    largest = np.abs(step).max(axis=1, keepdims=True)
    return lam + step * np.minimum(1.0, MAX_NEWTON_STEP / np.maximum(largest, 1e-12))


def _neg_hessian(theta: NDArray[np.float64], precision: NDArray[np.float64],
                 lengths: NDArray[np.float64]) -> NDArray[np.float64]:
    """-H = Σ⁻¹ + N_d (diag θ - θθᵀ), one (K-1)x(K-1) matrix per document."""
    hessian = theta[:, :, None] * -theta[:, None, :]
    diagonal = np.arange(theta.shape[1])
    hessian[:, diagonal, diagonal] += theta
    hessian *= lengths[:, None, None]
    hessian += precision[None]
    return hessian


def _laplace_covariance(lam: NDArray[np.float64], precision: NDArray[np.float64],
                        lengths: NDArray[np.float64]) -> tuple[NDArray[np.float64], float]:
    """Σ_d ν_d and Σ_d log|ν_d|, with ν_d the inverse negative Hessian at λ_d."""
    theta = _softmax(lam)[:, :-1]
    total = np.zeros_like(precision)
    logdet = 0.0
    for start in range(0, len(lam), CHUNK):
        part = slice(start, start + CHUNK)
        neg_hessian = _neg_hessian(theta[part], precision, lengths[part])
        total += np.linalg.inv(neg_hessian).sum(axis=0)
        logdet -= float(np.linalg.slogdet(neg_hessian)[1].sum())
    return total, logdet


def _regress(x: NDArray[np.float64], lam: NDArray[np.float64]) -> NDArray[np.float64]:
    penalty = np.full(x.shape[1], GAMMA_RIDGE)
    penalty[0] = 0.0  # the intercept is not shrunk
    return np.asarray(np.linalg.solve(x.T @ x + np.diag(penalty), x.T @ lam), dtype=np.float64)


def _covariance(residual: NDArray[np.float64], nu_sum: NDArray[np.float64],
                n_docs: int) -> NDArray[np.float64]:
    sigma = (nu_sum + residual.T @ residual) / n_docs
    return sigma + SIGMA_JITTER * np.eye(len(sigma))


def _bound(loglik: float, residual: NDArray[np.float64], precision: NDArray[np.float64],
           nu_sum: NDArray[np.float64], logdet_nu: float, n_docs: int) -> float:
    """The approximate evidence lower bound (up to constants) that EM monitors."""
    prior = -0.5 * float(np.einsum("ij,jk,ik->", residual, precision, residual))
    prior -= 0.5 * float(np.trace(precision @ nu_sum))
    prior += 0.5 * n_docs * float(np.linalg.slogdet(precision)[1]) + 0.5 * logdet_nu
    return loglik + prior
