"""tuner's Adam makes torch.optim.Adam's updates, bit for bit, without importing torch._dynamo."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from trainers.adam import Adam

REPO = Path(__file__).resolve().parents[2]


def _trained(make_optimizer, steps: int = 40) -> list[torch.Tensor]:
    """A small net's weights after `steps` Adam steps on a fixed batch; one parameter sits out
    the first steps (no gradient), as a frozen part of a net would."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(12, 16), torch.nn.Softplus(),
                              torch.nn.BatchNorm1d(16), torch.nn.Linear(16, 4))
    optimizer = make_optimizer(net.parameters())
    x = torch.randn(32, 12)
    for step in range(steps):
        net[3].bias.requires_grad_(step >= 5)
        loss = net(x).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return [p.detach().clone() for p in net.parameters()]


@pytest.mark.parametrize("fused", [None, False, True])
@pytest.mark.parametrize("betas, weight_decay", [((0.9, 0.999), 0.0), ((0.99, 0.999), 0.01)])
def test_updates_equal_torch_adams_bit_for_bit(fused, betas, weight_decay):
    ours = _trained(lambda ps: Adam(ps, lr=0.01, betas=betas, weight_decay=weight_decay,
                                    fused=fused))
    torch_s = _trained(lambda ps: torch.optim.Adam(ps, lr=0.01, betas=betas,
                                                   weight_decay=weight_decay, fused=fused))
    assert all(torch.equal(a, b) for a, b in zip(ours, torch_s, strict=True))
    assert not torch.equal(ours[0], _trained(lambda ps: Adam(ps, lr=0.01), steps=0)[0])


@pytest.mark.parametrize("fused", [None, True])
def test_decoupled_weight_decay_equals_torch_adamw_bit_for_bit(fused):
    ours = _trained(lambda ps: Adam(ps, lr=0.01, weight_decay=0.01, fused=fused,
                                    decoupled_weight_decay=True))
    torch_s = _trained(lambda ps: torch.optim.AdamW(ps, lr=0.01, fused=fused))
    assert all(torch.equal(a, b) for a, b in zip(ours, torch_s, strict=True))
    coupled = _trained(lambda ps: Adam(ps, lr=0.01, weight_decay=0.01, fused=fused))
    assert not all(torch.equal(a, b) for a, b in zip(ours, coupled, strict=True))


def test_zero_grad_sets_gradients_to_none():
    weight = torch.nn.Parameter(torch.ones(3))
    optimizer = Adam([weight], lr=0.1)
    (weight * 2).sum().backward()
    optimizer.zero_grad()
    assert weight.grad is None


def test_fused_refuses_integer_parameters():
    with pytest.raises(ValueError, match="floating-point"):
        Adam([torch.zeros(2, dtype=torch.int64)], lr=0.1, fused=True)


def test_a_neural_fit_never_imports_torch_dynamo():
    """torch.optim's Optimizer imports torch._dynamo (1.1 s, 70 MB) at a process's first
    optimizer; a ProdLDA fit in a fresh process must not."""
    code = """
import sys
import numpy as np, scipy.sparse as sp
from trainers.nets.prodlda import ProdLDANet
from trainers.neural import TrainConfig, bow_batches, train_vae
counts = sp.random(60, 50, density=0.2, format="csr", random_state=0) * 5
counts.data = np.ceil(counts.data)
net = ProdLDANet(50, 4, 16, 1, 0.2)
train_vae(net, bow_batches(counts.astype(np.float32), "cpu"), 60,
          TrainConfig(epochs=2, batch_size=16, learning_rate=0.01, patience=None, seed=1))
print(sorted(m for m in sys.modules if m.startswith("torch._dynamo")))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300, env={**os.environ, "PYTHONPATH": str(REPO)}, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"
