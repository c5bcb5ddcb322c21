"""The shared neural parts: decoder init, priors, validation on the posterior mean, NVDM's
readout and the one fitting recipe, on real 20 Newsgroups posts."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from trainers import load_trainer
from trainers.nets.ctm import CTMNet
from trainers.nets.nvdm import NVDMNet, column_signs
from trainers.nets.prodlda import ProdLDANet
from trainers.neural import (
    BowLinear,
    LogisticNormalPrior,
    ProductOfExpertsDecoder,
    TrainConfig,
    bow_batches,
    bow_input,
    fit_vae,
    gaussian_kl,
    mixture_nll,
    split_train_validation,
    validation_loss,
    word_log_likelihood,
)
from tuner.data.inputs import FitContext

K, V = 20, 2000
XAVIER_BOUND = math.sqrt(6.0 / (K + V))  # 0.0545: Xavier-uniform for a K x V matrix


@pytest.mark.parametrize("make", [
    lambda: ProdLDANet(V, K, 64, 1, 0.2).decoder,
    lambda: CTMNet(V, 384, False, K, 64, 1, 0.2).decoder,
], ids=["ProdLDA", "CTM"])
def test_decoder_starts_xavier_uniform(make):
    """nn.Linear's default would start β at ±1/sqrt(K) = ±0.22, four times wider."""
    torch.manual_seed(0)
    beta = make().beta.detach()
    assert beta.shape == (K, V)
    assert beta.abs().max() <= XAVIER_BOUND
    assert beta.abs().max() > 0.95 * XAVIER_BOUND
    assert abs(beta.std().item() - XAVIER_BOUND / math.sqrt(3)) < 0.002


def test_ctm_learns_its_prior_and_prodlda_keeps_its_own():
    ctm = {name for name, p in CTMNet(V, 384, False, K, 64, 1, 0.2).named_parameters()}
    prodlda = {name for name, p in ProdLDANet(V, K, 64, 1, 0.2).named_parameters()}
    assert {"prior.mean", "prior.log_variance"} <= ctm
    assert not any(name.startswith("prior.") for name in prodlda)


def test_prior_starts_at_the_dirichlet_laplace_approximation():
    """Srivastava & Sutton eq. 3 for alpha = 1: mean 0, variance 1 - 2/K + 1/K."""
    prior = LogisticNormalPrior(K, learnable=True)
    np.testing.assert_allclose(prior.log_variance.exp().detach().numpy(), 1 - 1 / K, rtol=1e-6)
    mu, logvar = torch.zeros(3, K), torch.full((3, K), math.log(1 - 1 / K))
    np.testing.assert_allclose(prior.kl(mu, logvar).detach().numpy(), 0.0, atol=1e-5)
    assert torch.all(gaussian_kl(mu + 1.0, logvar) > prior.kl(mu, logvar))


def test_decoder_topics_are_read_through_its_batch_norm():
    """Word 6 has the largest β in every topic only through its column's offset, which batch
    norm removes: the topics are what the decoder predicts, words 0, 3 and 5."""
    decoder = ProductOfExpertsDecoder(3, 7, 0.0)
    beta = torch.zeros(3, 7)
    beta[0, 0] = beta[1, 3] = beta[2, 5] = 1.0
    beta[:, 6] = 5.0
    with torch.no_grad():
        decoder.beta.copy_(beta)
        decoder.word_norm.running_mean.copy_(beta.mean(dim=0))
        decoder.word_norm.running_var.fill_(0.25)
    words = decoder.topic_word()
    np.testing.assert_allclose(words.sum(dim=1).detach().numpy(), 1.0, rtol=1e-6)
    assert words.argmax(dim=1).tolist() == [0, 3, 5]
    assert torch.softmax(decoder.beta, dim=1).argmax(dim=1).tolist() == [6, 6, 6]


@pytest.fixture(scope="module")
def trained_prodlda(small_data):
    """ProdLDA after two epochs on 400 posts, and its batch maker."""
    torch.manual_seed(3)
    bow = small_data.bow
    net = ProdLDANet(len(bow.vocab), 6, 64, 1, 0.2)
    make_batch = bow_batches(bow.matrix(), "cpu")
    config = TrainConfig(epochs=2, batch_size=64, learning_rate=0.002, patience=None, seed=3)
    from trainers.neural import train_vae

    train_vae(net, make_batch, bow.n_docs, config)
    return net, make_batch, config


def test_validation_loss_uses_the_posterior_mean(trained_prodlda, small_data):
    """Held-out loss is a number of the model, not of one random draw: two calls agree."""
    net, make_batch, config = trained_prodlda
    _, val_idx = split_train_validation(small_data.bow.n_docs, 3)
    first = validation_loss(net, make_batch, val_idx, config)
    assert validation_loss(net, make_batch, val_idx, config) == first
    net.train()
    with torch.no_grad():
        sampled = [float(net.losses(make_batch(val_idx))[0].mean()) for _ in range(2)]
    net.eval()
    assert sampled[0] != sampled[1]


def _nvdm(vocab: int = 6, topics: int = 2) -> NVDMNet:
    torch.manual_seed(0)
    return NVDMNet(vocab, topics, 8, 1, 0.0).eval()


def test_nvdm_topic_is_the_standing_out_end_of_each_column():
    """Dimension 0 raises words 0 and 1 strongly; dimension 1 lowers words 4 and 5 strongly, so
    its topic is words 4 and 5 (the negative end), not the mildly raised rest."""
    net = _nvdm()
    with torch.no_grad():
        net.decoder.weight.copy_(torch.tensor([
            [3.0, -0.2], [2.5, 0.3], [-0.3, 0.4], [-0.4, 0.2], [-0.2, -2.8], [0.1, -3.1]]))
    assert net.topic_signs().tolist() == [1.0, -1.0]
    words = net.topic_word().detach().numpy()
    assert np.argsort(-words[0])[:2].tolist() == [0, 1]
    assert sorted(np.argsort(-words[1])[:2].tolist()) == [4, 5]
    np.testing.assert_allclose(words.sum(axis=1), 1.0, rtol=1e-6)


def test_nvdm_assignment_follows_the_oriented_mean():
    """A document with mu = (0.5, -3) pushes hard towards dimension 1's topic end: topic 1.
    softmax(mu) without the sign would have said topic 0."""
    net = _nvdm()
    with torch.no_grad():
        net.decoder.weight.copy_(torch.tensor([
            [3.0, -0.2], [2.5, 0.3], [-0.3, 0.4], [-0.4, 0.2], [-0.2, -2.8], [0.1, -3.1]]))
        net.encoder.mu.weight.zero_()
        net.encoder.mu.bias.copy_(torch.tensor([0.5, -3.0]))
    theta = net.doc_topic({"bow": torch.ones(3, 6)})
    assert theta.argmax(dim=1).tolist() == [1, 1, 1]
    np.testing.assert_allclose(theta.sum(dim=1).detach().numpy(), 1.0, rtol=1e-6)


def test_column_signs_of_a_symmetric_column_are_positive():
    assert column_signs(torch.tensor([[1.0], [-1.0], [0.0]])).tolist() == [1.0]


def test_recipe_repeats_and_reads_extras_from_the_trained_net(small_data, tmp_path):
    params = load_trainer("ProdLDA").params.with_defaults(
        {"num_topics": 5, "epochs": 2, "hidden_dim": 64, "num_layers": 1})
    ctx = FitContext(seed=11, cache_dir=str(tmp_path))

    def fit() -> tuple[object, float]:
        seen: list[float] = []

        def extras(net: torch.nn.Module) -> dict[str, float]:
            seen.append(float(net.decoder.beta.detach().abs().sum()))
            return {"beta_l1": seen[0]}

        output = fit_vae(lambda: ProdLDANet(len(small_data.bow.vocab), 5, 64, 1, 0.2),
                         small_data, params, ctx, extras=extras)
        return output, seen[0]

    (first, first_l1), (again, _) = fit(), fit()
    np.testing.assert_array_equal(first.topic_word, again.topic_word)
    assert first.extras["beta_l1"] == first_l1
    assert first.extras["epochs_run"] == 2
    assert first.doc_topic.shape == (small_data.bow.n_docs, 5)


@pytest.mark.parametrize(("epochs", "patience", "warmup", "first"), [
    (100, 10, 0, 10), (100, None, 50, 50), (100, 10, 50, 50), (3, 10, 0, 2), (1, None, 0, 0)])
def test_first_watched_epoch(epochs, patience, warmup, first):
    from trainers.neural import first_watched_epoch

    config = TrainConfig(epochs=epochs, batch_size=64, learning_rate=0.002, patience=patience,
                         seed=1, kl_warmup=warmup)
    assert first_watched_epoch(config) == first


def test_weights_of_unwatched_epochs_are_never_kept(small_data):
    """With patience 10 and three epochs only the last is watched: its weights are kept even
    where an earlier epoch had a lower held-out loss."""
    from trainers.neural import train_vae

    torch.manual_seed(5)
    bow = small_data.bow
    net = ProdLDANet(len(bow.vocab), 6, 64, 1, 0.2)
    config = TrainConfig(epochs=3, batch_size=64, learning_rate=0.002, patience=10, seed=5)
    result = train_vae(net, bow_batches(bow.matrix(), "cpu"), bow.n_docs, config)
    assert (result.best_epoch, result.epochs_run) == (2, 3)
    assert result.best_val_loss == result.history[2]["val_loss"]


def test_without_early_stopping_the_last_epoch_is_kept(small_data):
    """patience null trains every epoch and keeps the final weights, as ProdLDA's and CTM's
    reference code (CTM on 20ng-mini, seed 42: NPMI -0.067 with the best held-out epoch's
    weights, -0.047 with the last)."""
    from trainers.neural import train_vae

    torch.manual_seed(5)
    bow = small_data.bow
    net = ProdLDANet(len(bow.vocab), 6, 64, 1, 0.2)
    make_batch = bow_batches(bow.matrix(), "cpu")
    config = TrainConfig(epochs=3, batch_size=64, learning_rate=0.002, patience=None, seed=5)
    result = train_vae(net, make_batch, bow.n_docs, config)
    _, val_idx = split_train_validation(bow.n_docs, 5)
    assert (result.best_epoch, result.epochs_run) == (2, 3)
    assert validation_loss(net, make_batch, val_idx, config) == result.history[2]["val_loss"]


def test_turnover_is_the_share_of_top_words_new_since_lag_epochs_before(small_data):
    """Each epoch's top 10 word ids per topic are kept; the kept epoch's turnover compares them
    with those TURNOVER_LAG epochs before (half the epochs, when fewer were run)."""
    from trainers.neural import TrainResult, top_word_ids, train_vae

    torch.manual_seed(5)
    bow = small_data.bow
    net = ProdLDANet(len(bow.vocab), 6, 64, 1, 0.2)
    config = TrainConfig(epochs=4, batch_size=64, learning_rate=0.002, patience=None, seed=5)
    result = train_vae(net, bow_batches(bow.matrix(), "cpu"), bow.n_docs, config)
    assert len(result.top_words) == 4
    np.testing.assert_array_equal(result.top_words[-1], top_word_ids(net))
    now, before = result.top_words[3], result.top_words[1]
    new = np.mean([len(set(a) - set(b)) for a, b in zip(now, before, strict=True)]) / 10
    assert result.turnover() == (pytest.approx(new), 2)
    ids = [np.array([[0, 1], [2, 3]]), np.array([[0, 5], [2, 3]]), np.array([[6, 7], [8, 9]])]
    assert TrainResult(best_epoch=2, top_words=ids).turnover() == (1.0, 1)
    assert TrainResult(best_epoch=1, top_words=ids).turnover() == (0.25, 1)
    assert TrainResult(best_epoch=0, top_words=ids).turnover() is None
    assert result.start_top_words is not None and result.start_top_words.shape == (6, 10)
    start = np.array([[0, 7], [2, 4]])
    assert TrainResult(best_epoch=1, top_words=ids, start_top_words=start).from_start() == 0.5
    assert TrainResult(best_epoch=2, top_words=ids, start_top_words=start).from_start() == 0.25
    assert TrainResult(best_epoch=1, top_words=ids).from_start() is None


def test_reading_each_epochs_topics_leaves_the_fit_as_it_was(small_data, monkeypatch):
    """Reading the topics each epoch must draw no random numbers and update no running
    statistic: the loop with the reading skipped trains the very same weights (and ProdLDA on
    20ng-mini, K=20, 20 epochs, seed 42 kept its held-out loss 726.84232421875 when the reading
    came in, 2026-12-02); the facts carry the turnover a concern is judged on."""
    from trainers import neural

    trainer = load_trainer("prodlda")
    params = trainer.params.with_defaults({"num_topics": 6, "epochs": 10, "patience": None})
    read = trainer().fit(small_data, params, FitContext(seed=3))
    assert read.extras["top_word_turnover_epochs"] == 5
    assert 0.0 <= read.extras["top_word_turnover"] <= 1.0
    assert 0.0 <= read.extras["top_words_from_start"] <= 1.0
    monkeypatch.setattr(neural, "top_word_ids", lambda model: np.zeros((6, 10), dtype=np.int64))
    unread = trainer().fit(small_data, params, FitContext(seed=3))
    assert unread.extras["best_val_loss"] == read.extras["best_val_loss"]
    np.testing.assert_array_equal(unread.topic_word, read.topic_word)
    np.testing.assert_array_equal(unread.doc_topic, read.doc_topic)


@pytest.fixture(scope="module")
def sparse_and_dense(small_data):
    """The first 64 posts' counts as a sparse CSR batch and as the dense matrix."""
    batch = bow_batches(small_data.bow.matrix(), "cpu")(np.arange(64))["bow"]
    return batch, batch.to_dense()


def test_bow_linear_starts_as_nn_linear():
    """Same seed, same first layer: the sparse layer draws nn.Linear's numbers."""
    torch.manual_seed(5)
    linear = torch.nn.Linear(V, 16)
    torch.manual_seed(5)
    layer = BowLinear(V, 16)
    assert torch.equal(layer.weight.T, linear.weight) and torch.equal(layer.bias, linear.bias)


def test_bow_linear_reads_sparse_as_dense(sparse_and_dense):
    sparse, dense = sparse_and_dense
    assert sparse.layout == torch.sparse_csr and sparse.values().numel() < dense.numel() / 20
    layer = BowLinear(dense.shape[1], 16)
    torch.testing.assert_close(layer(bow_input(sparse)), layer(bow_input(dense)))


def test_likelihoods_of_sparse_and_dense_counts_agree(sparse_and_dense):
    sparse, dense = sparse_and_dense
    theta = torch.softmax(torch.randn(dense.shape[0], 6), dim=1)
    beta = torch.softmax(torch.randn(6, dense.shape[1]), dim=1)
    log_probs = torch.log(theta @ beta)
    torch.testing.assert_close(word_log_likelihood(sparse, log_probs),
                               word_log_likelihood(dense, log_probs))
    torch.testing.assert_close(mixture_nll(sparse, theta, beta), mixture_nll(dense, theta, beta))
