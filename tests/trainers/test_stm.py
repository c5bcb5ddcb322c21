"""STM recovers a real prevalence effect; its design matrix and CTM mode behave as documented."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import dataset_path, read_jsonl
from tests.trial_data import trial_data_for
from trainers import load_trainer
from trainers.stm import prevalence_design
from tuner.data.inputs import FitContext
from tuner.errors import TrainerError

GROUPS = ("rec.sport.hockey", "sci.med")
FLIP_EVERY = 7  # one document in 7 gets the other group: the covariate is informative, not exact


@pytest.fixture(scope="module")
def two_groups(tmp_path_factory):
    """200 real posts of two 20NG groups; `group` is the newsgroup for 6 in 7 posts, the other
    one for the rest; `shuffled` is a random permutation of `group` (no real effect)."""
    records = [r for r in read_jsonl(dataset_path("20ng-mini"))
               if r["label"] in GROUPS]
    for i, record in enumerate(records):
        other = GROUPS[1 - GROUPS.index(record["label"])]
        record["group"] = other if i % FLIP_EVERY == 0 else record["label"]
    permuted = np.random.default_rng(0).permutation([r["group"] for r in records])
    for record, group in zip(records, permuted, strict=True):
        record["shuffled"] = str(group)
    data = trial_data_for(records, tmp_path_factory.mktemp("stm"),
                          covariates=["group", "shuffled"])
    is_med = np.array([r["label"] == "sci.med" for r in records])
    return data, is_med


@pytest.fixture(scope="module")
def stm_fit(two_groups):
    data, _ = two_groups
    trainer = load_trainer("STM")
    params = trainer.params.with_defaults({"num_topics": 3, "vocab_size": 1000, "max_iter": 50})
    return trainer().fit(data, params, FitContext(seed=1))


def test_covariate_effect_is_largest_for_the_matching_topic(two_groups, stm_fit):
    _, is_med = two_groups
    shift = stm_fit.doc_topic[is_med].mean(axis=0) - stm_fit.doc_topic[~is_med].mean(axis=0)
    matching = int(np.argmax(shift))  # the topic the sci.med posts use more
    effect = np.array(stm_fit.extras["covariate_effects"]["effects"]["group=sci.med"])
    others = np.delete(effect, matching)
    assert effect[matching] > 1.0 + others.max()


def test_shuffled_covariate_has_a_much_smaller_effect(stm_fit):
    effects = stm_fit.extras["covariate_effects"]["effects"]
    real = np.abs(effects["group=sci.med"]).max()
    assert np.abs(effects["shuffled=sci.med"]).max() < real / 3


def test_effects_name_the_reference_level(stm_fit):
    assert stm_fit.extras["mode"] == "stm"
    assert stm_fit.extras["covariate_effects"]["reference_levels"] == {
        "group": "rec.sport.hockey", "shuffled": "rec.sport.hockey"}


def test_without_covariates_it_runs_as_ctm(small_data):
    trainer = load_trainer("STM")
    params = trainer.params.with_defaults({"num_topics": 5, "vocab_size": 1000, "max_iter": 10})
    output = trainer().fit(small_data, params, FitContext(seed=2))
    assert output.extras["mode"] == "ctm"
    assert "covariate_effects" not in output.extras


def test_design_one_hot_and_numeric_columns():
    design = prevalence_design({"year": [1990, 2000, 2010], "region": ["b", "a", "c"]}, 3)
    assert design.columns == ["(intercept)", "year", "region=b", "region=c"]
    np.testing.assert_array_equal(design.matrix[:, 2:], [[1, 0], [0, 0], [0, 1]])
    assert design.references == {"region": "a"}


def test_a_number_is_one_level_however_it_is_written():
    """1, "1" and 1.0 were the levels "1" and "1.0" (audit of 2026-12-01)."""
    design = prevalence_design({"group": [1, "1", 1.0, "2", 2]}, 5)
    assert design.columns == ["(intercept)", "group=2"]
    np.testing.assert_array_equal(design.matrix[:, 1], [0, 0, 0, 1, 1])


def test_design_rejects_missing_values():
    with pytest.raises(TrainerError, match="covariate 'region' is null in 1 documents"):
        prevalence_design({"region": ["a", None, "b"]}, 3)


def test_spectral_start_is_deterministic_topics(small_data):
    from trainers.stm import spectral_topics

    counts = small_data.bow.matrix().astype(np.float64).tocsr()
    beta = spectral_topics(counts, 5)
    assert beta.shape == (5, len(small_data.bow.vocab))
    np.testing.assert_allclose(beta.sum(axis=1), 1.0)
    np.testing.assert_array_equal(beta, spectral_topics(counts, 5))
    # anchors make the topics differ: no two share their top word list
    assert len({tuple(np.argsort(-row)[:10]) for row in beta}) == 5


@pytest.mark.parametrize("init", ["spectral", "random"])
def test_em_runs_to_convergence_and_logs_iterations(small_data, init):
    trainer = load_trainer("STM")
    params = trainer.params.with_defaults({"num_topics": 5, "vocab_size": 1000, "max_iter": 200,
                                           "em_tol": 1e-3, "init": init})
    output = trainer().fit(small_data, params, FitContext(seed=2))
    assert output.extras["em_converged"] == 1
    assert 1 < output.extras["em_iterations"] < 200


def test_a_small_effect_per_unit_keeps_its_figures():
    """Rounded to six decimals, a covariate in seconds since 1970 (effects about 1e-9 a unit)
    read as no effect at all, every value 0.0 (audit of 2026-12-01)."""
    from trainers.stm import covariate_effects

    design = prevalence_design({"epoch": [1.5e9, 1.6e9, 1.7e9]}, 3)
    gamma = np.array([[0.5, -0.2], [2.0e-9, -1.5e-9]])  # intercept row, then the covariate
    effects = covariate_effects(design, gamma)["effects"]["epoch"]
    assert all(value != 0.0 for value in effects)
    assert effects[0] == pytest.approx(2.0e-9 - (2.0e-9 - 1.5e-9) / 3, rel=1e-5)
