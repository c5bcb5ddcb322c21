"""Adam as `torch.optim.Adam` computes it, without `torch.optim.Optimizer`.

An Optimizer imports `torch._dynamo` when a process makes its first one (its `add_param_group`
and `step` are wrapped for torch.compile): 1.1 s of CPU and about 70 MB per process on 2 cores,
for a compiler tuner never uses: 1.1 of the 2.6 CPU s the fork server spent importing a
ProdLDA sweep's libraries, a start-up a second worker cannot shorten.

This class keeps the same state and calls torch's functional `torch.optim.adam.adam`, the very
function `Adam.step` calls with the same arguments, so every update is bit-identical
(tests/trainers/test_adam.py) and no trainer's results change.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch.optim.adam import adam


class Adam:
    """`torch.optim.Adam(params, lr, betas, eps, weight_decay, fused=fused)`'s updates, or with
    `decoupled_weight_decay` `torch.optim.AdamW`'s (whose default weight decay is 0.01); `step`
    and `zero_grad` (gradients set to None, torch's default) as there."""

    def __init__(self, params: Iterable[torch.Tensor], lr: float,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, fused: bool | None = None,
                 decoupled_weight_decay: bool = False) -> None:
        self.params = list(params)
        if fused and any(not p.is_floating_point() for p in self.params):
            raise ValueError("fused Adam needs floating-point parameters")
        self.lr, self.betas, self.eps, self.weight_decay = lr, betas, eps, weight_decay
        self.fused, self.decoupled_weight_decay = fused, decoupled_weight_decay
        self.state: dict[torch.Tensor, dict[str, torch.Tensor]] = {}

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        params = [p for p in self.params if p.grad is not None]
        grads = [p.grad for p in params if p.grad is not None]
        if any(g.is_sparse for g in grads):
            raise RuntimeError("Adam does not support sparse gradients")
        states = [self._state(p) for p in params]
        adam(params, grads, [s["exp_avg"] for s in states], [s["exp_avg_sq"] for s in states], [],
             [s["step"] for s in states], foreach=None, capturable=False,
             differentiable=False, fused=self.fused, grad_scale=None, found_inf=None,
             has_complex=any(torch.is_complex(p) for p in params), amsgrad=False,
             beta1=self.betas[0], beta2=self.betas[1], lr=self.lr,
             weight_decay=self.weight_decay, eps=self.eps, maximize=False,
             decoupled_weight_decay=self.decoupled_weight_decay)

    def _state(self, p: torch.Tensor) -> dict[str, torch.Tensor]:
        """Made at a parameter's first step, as Adam's `_init_group` makes it: the step count
        on the parameter's device in float32 when fused, else on the CPU in the default dtype."""
        if p not in self.state:
            if self.fused:
                step = torch.zeros((), dtype=torch.float32, device=p.device)
            else:
                dtype = torch.float64 if torch.get_default_dtype() == torch.float64 \
                    else torch.float32
                step = torch.tensor(0.0, dtype=dtype, device="cpu")
            self.state[p] = {"step": step,
                             "exp_avg": torch.zeros_like(p, memory_format=torch.preserve_format),
                             "exp_avg_sq": torch.zeros_like(p,
                                                            memory_format=torch.preserve_format)}
        return self.state[p]
