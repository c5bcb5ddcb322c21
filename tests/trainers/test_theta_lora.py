"""THETA's LoRA path: the embedding model itself fine-tuned (SimCSE / SupCon), on the CPU here.

The offline MiniLM stands in for Qwen3-Embedding; budgets are tiny (short texts, few steps) but
the training is real, so a LoRA that learnt nothing fails the label-separation test.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import silhouette_score

from trainers import load_trainer
from trainers.lora import fine_tune_and_encode, lora_key, lora_settings_for
from trainers.theta import resolved_adaptation
from tuner.data.embeddings import encode_texts
from tuner.data.inputs import FitContext
from tuner.data.store import file_sha256
from tuner.devices import thread_limit
from tuner.errors import TrainerError

SHORT = 32  # tokens per text: keeps CPU fine-tuning to seconds


@pytest.fixture(scope="module")
def short_source(small_data):
    return dataclasses.replace(small_data.encoder, max_length=SHORT)


def test_supervised_lora_separates_labels(small_data, short_source):
    texts, labels = small_data.corpus.texts[:200], np.asarray(small_data.labels[:200])
    with thread_limit(2):
        base = encode_texts(Path(short_source.path), texts, "mean", SHORT, progress=False)
        tuned = fine_tune_and_encode(texts, labels, short_source,
                                     lora_settings_for("supcon", learning_rate=1e-3), 5, "cpu")
    assert tuned.shape == base.shape
    np.testing.assert_allclose(np.linalg.norm(tuned, axis=1), 1.0, atol=1e-5)
    gain = silhouette_score(tuned, labels, metric="cosine") - \
        silhouette_score(base, labels, metric="cosine")
    assert gain > 0.005


def test_theta_lora_fit_is_logged_cached_and_leaves_the_model_alone(ng_records, short_source,
                                                                     tmp_path):
    from tests.conftest import stratified_subset
    from tests.trial_data import trial_data_for

    # 80 posts: what is tested is the LoRA's caching and the model folder left alone (400 took
    # 42 s, most of it fine-tuning and re-encoding)
    small = trial_data_for(stratified_subset(ng_records, 4), tmp_path / "data", model="theta")
    data = dataclasses.replace(small, encoder=dataclasses.replace(small.encoder, max_length=12))
    trainer = load_trainer("THETA")
    params = trainer.params.with_defaults({"num_topics": 6, "vocab_size": 1000, "epochs": 3,
                                           "hidden_dim": 64, "num_layers": 1, "kl_warmup": 1,
                                           "mode": "unsupervised", "adaptation": "lora"})
    before = _folder_digest(Path(short_source.path))
    context = FitContext(seed=2, cache_dir=str(tmp_path), threads=2)
    first = trainer().fit(data, params, context)
    again = trainer().fit(data, params, context)
    assert first.extras["adaptation"] == "lora"
    assert (first.extras["adaptation_cache"], again.extras["adaptation_cache"]) == \
        ("computed", "hit")
    np.testing.assert_array_equal(first.doc_topic, again.doc_topic)
    assert _folder_digest(Path(short_source.path)) == before


def _folder_digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): file_sha256(p) for p in sorted(folder.rglob("*"))
            if p.is_file()}


def test_lora_key_follows_labels_seed_and_settings(small_data, short_source):
    labels = np.asarray(small_data.labels)
    settings = lora_settings_for("supcon")
    base = lora_key(short_source, labels, settings, "supervised", 1, "c").digest
    assert lora_key(short_source, labels[::-1].copy(), settings, "supervised", 1,
                    "c").digest != base
    assert lora_key(short_source, labels, settings, "supervised", 2, "c").digest != base
    assert lora_key(short_source, labels, lora_settings_for("supcon", rank=16), "supervised", 1,
                    "c").digest != base


@pytest.mark.parametrize(("choice", "device", "expected"), [
    ("auto", "cpu", "adapter"), ("auto", "cuda:1", "lora"), ("lora", "cpu", "lora"),
    ("adapter", "cuda:0", "adapter"),
])
def test_auto_means_lora_on_a_gpu_only(choice, device, expected):
    assert resolved_adaptation(choice, device) == expected


def test_lora_without_the_embedding_model_says_so(small_data, tmp_path):
    data = dataclasses.replace(small_data, encoder=None)
    trainer = load_trainer("THETA")
    params = trainer.params.with_defaults({"num_topics": 6, "vocab_size": 1000, "epochs": 1,
                                           "mode": "unsupervised", "adaptation": "lora"})
    with pytest.raises(TrainerError, match="adaptation=lora needs the embedding model"):
        trainer().fit(data, params, FitContext(seed=1, cache_dir=str(tmp_path)))


def test_one_fine_tuning_at_a_time_per_gpu(tmp_path):
    """A second worker on the same GPU waits; one on another GPU or the CPU does not."""
    import subprocess
    import sys
    import time

    from filelock import Timeout

    from tests.conftest import REPO
    from trainers.lora import one_at_a_time_on

    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pathlib import Path; "
         "from trainers.lora import one_at_a_time_on\n"
         f"with one_at_a_time_on('cuda:0', Path({str(tmp_path)!r})):\n"
         "    print('held', flush=True); time.sleep(30)"],
        cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(Timeout):
            from tuner.data.store import locked
            with locked(tmp_path / "locks" / "lora-cuda-0", timeout=0.5):
                pass
        started = time.monotonic()
        with one_at_a_time_on("cuda:1", tmp_path), one_at_a_time_on("cpu", tmp_path):
            assert time.monotonic() - started < 5
    finally:
        holder.kill()
        holder.wait()
