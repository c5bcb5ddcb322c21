"""The code paths numeric libraries pick by the CPU are in the keys of fits and caches: on one
AVX-512 machine, torch's AVX2 kernels, OpenBLAS's Haswell kernel and numba's generic target each
moved results under unchanged keys (audit of 2026-12-02)."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

import pytest

from tests.conftest import REPO
from tuner.data.numerics import check_torch_capability, torch_capability
from tuner.errors import CacheError

X86 = pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64"),
                         reason="ATen's and MKL's instruction sets are x86's")


def _in_a_new_process(code: str, **env: str) -> str:
    clean = {k: v for k, v in os.environ.items()
             if k not in ("ATEN_CPU_CAPABILITY", "OPENBLAS_CORETYPE", "NUMBA_CPU_NAME")}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**clean, "PYTHONPATH": str(REPO), **env}, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.parametrize("chosen", [None, "avx2", "default", "AVX2", "sse"])
def test_the_capability_read_without_torch_is_torchs_own(chosen: str | None) -> None:
    """The parent keys trials before any process imports torch: it reads the CPU's flags and
    $ATEN_CPU_CAPABILITY as torch does ("AVX2" and unknown names are ignored by torch)."""
    code = ("import json, torch; from tuner.data.numerics import torch_capability; "
            "print(json.dumps([torch_capability(), "
            "str(torch.backends.cpu.get_cpu_capability()).lower()]))")
    ours, torchs = json.loads(_in_a_new_process(code, **(
        {"ATEN_CPU_CAPABILITY": chosen} if chosen else {})))
    assert ours.split("+")[0] == torchs


@X86
def test_mkl_s_instruction_set_is_keyed_beside_atens(monkeypatch) -> None:
    """MKL runs torch's matrix products whatever ATen runs: an AVX-512 host set to avx2 still
    multiplied with AVX-512, under an AVX2 host's key (review of 2026-12-02)."""
    monkeypatch.setenv("ATEN_CPU_CAPABILITY", "avx2")
    native = torch_capability()
    monkeypatch.setenv("MKL_ENABLE_INSTRUCTIONS", "AVX2")
    assert torch_capability() == "avx2+mkl:avx2" != native


@X86
def test_a_machine_whose_cpu_flags_cannot_be_read_checks_nothing(monkeypatch) -> None:
    """No /proc/cpuinfo (Windows, macOS): every torch trial failed the worker's check, the
    key reading "default" where torch ran AVX2 (review of 2026-12-02)."""
    from tuner.data import numerics

    monkeypatch.delenv("ATEN_CPU_CAPABILITY", raising=False)
    monkeypatch.setattr(numerics, "_cpu_field", lambda field: "")
    numerics._cpu_flags.cache_clear()
    try:
        keyed = torch_capability()
        assert keyed.endswith("-unknown+mkl:unknown-unknown")
        import torch  # noqa: F401 - the worker's situation: torch imported
        check_torch_capability(keyed)
    finally:
        numerics._cpu_flags.cache_clear()


def test_a_worker_whose_torch_picks_other_kernels_refuses_the_trial() -> None:
    import torch

    actual = str(torch.backends.cpu.get_cpu_capability()).lower()
    check_torch_capability(actual)
    other = "default" if actual != "default" else "avx2"
    with pytest.raises(CacheError, match="set one ATEN_CPU_CAPABILITY"):
        check_torch_capability(other)


def test_each_code_path_changes_the_keys_that_depend_on_it() -> None:
    code = ("import json; from tuner.fitting import fit_code; "
            "from tuner.data.embeddings import encoder_libraries; "
            "print(json.dumps({m: fit_code(m) for m in ('lda', 'prodlda', 'bertopic', 'stm')} "
            "| {'encoder': encoder_libraries()}))")
    here = json.loads(_in_a_new_process(code))
    avx2 = json.loads(_in_a_new_process(code, ATEN_CPU_CAPABILITY="default"))
    haswell = json.loads(_in_a_new_process(code, OPENBLAS_CORETYPE="Haswell"))
    generic = json.loads(_in_a_new_process(code, NUMBA_CPU_NAME="generic"))
    if torch_capability() != "default":
        assert avx2["prodlda"] != here["prodlda"] and avx2["encoder"] != here["encoder"]
        assert avx2["lda"] == here["lda"] and avx2["stm"] == here["stm"]
    if here["stm"]["blas"] != "openblas:Haswell":
        assert haswell["stm"] != here["stm"] and haswell["lda"] != here["lda"]
    assert generic["bertopic"] != here["bertopic"]
    assert generic["prodlda"] == here["prodlda"] and generic["stm"] == here["stm"]


def test_a_cuda_device_is_named_by_its_gpu_models() -> None:
    """Keys of fits and embeddings made on CUDA hold the GPU models: another model's kernels
    round otherwise. On a machine without CUDA (this one's CPU torch) nothing changes."""
    from tuner.data.embeddings import encoder_libraries
    from tuner.devices import cuda_identity, device_identity, device_kind

    assert cuda_identity(["NVIDIA H200", "NVIDIA A100-SXM4-80GB", "NVIDIA H200"]) == \
        "cuda:NVIDIA A100-SXM4-80GB+NVIDIA H200"
    if device_kind() == "cpu":
        assert device_identity() == "cpu" and "gpu=" not in encoder_libraries()
    else:
        assert device_identity().startswith("cuda:NVIDIA") and "gpu=cuda:" in encoder_libraries()
