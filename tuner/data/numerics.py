"""Which of its code paths a numeric library picks on this machine's CPU, for the keys of fits
and caches: the same versions sum otherwise on another instruction set. Forcing each path on one
AVX-512 machine (measured 2026-12-02) moved the results under keys that did not hold the paths:
torch's kernels (AVX2 against AVX-512) changed every MiniLM embedding (by up to 2e-7) and
BERTopic's ARI from 0.139 to 0.085 on them; OpenBLAS's kernel (Haswell) changed Word2Vec's
vectors, and THETA's ARI from 0.147 to 0.136; numba's target (generic) changed UMAP's
reduction, and BERTopic's ARI from 0.139 to 0.106. A store or cache shared by two kinds of
machine (a Dask cluster, NFS) would otherwise serve one machine's results as the other's.
tomotopy's own instruction set is tuner.fitting.tomotopy_isa.

Each is read without importing the library where that is slow (the parent keys trials before
any worker has imported torch); a worker checks torch's own answer (check_torch_capability)."""

from __future__ import annotations

import functools
import hashlib
import os
import platform
import sys
from collections.abc import Collection
from pathlib import Path

from tuner.errors import CacheError

TORCH_CAPABILITIES = ("default", "avx2", "avx512")  # what $ATEN_CPU_CAPABILITY may name (x86)


def cpu_numerics(libraries: Collection[str]) -> dict[str, str]:
    """The code paths of those `libraries` (distribution names) that pick one by the CPU."""
    found = {"blas": blas_kernel()} if "numpy" in libraries else {}
    if "torch" in libraries:
        found["torch_cpu"] = torch_capability()
    if {"numba", "umap-learn"} & set(libraries):
        found["numba_cpu"] = numba_target()
    return found


def torch_capability() -> str:
    """The kernels torch's CPU operators run, `<aten>+mkl:<isa>`: ATen's own (default, avx2 or
    avx512 on x86) as torch picks them, $ATEN_CPU_CAPABILITY when it names one, else the best
    the CPU has (AVX-512 needs its F, VL, BW and DQ parts and FMA; AVX2 needs FMA too); and
    MKL's, which runs the matrix products whatever ATen runs (an AVX-512 host set to avx2
    still multiplies with AVX-512): $MKL_ENABLE_INSTRUCTIONS, else the
    CPU's vendor and best instruction set (MKL runs AVX2 code on AMD's AVX-512). oneDNN's
    $ONEDNN_MAX_CPU_ISA is added when set. Elsewhere than x86, the machine's architecture and,
    on ARM, whether it has SVE; where the CPU's flags cannot be read (no /proc/cpuinfo), an
    unknown capability that no worker checks."""
    machine = platform.machine().lower()
    flags = _cpu_flags()
    if machine not in ("x86_64", "amd64", "i386", "i686"):
        return machine + ("-sve" if "sve" in flags else "")
    chosen = os.environ.get("ATEN_CPU_CAPABILITY", "")
    if chosen in TORCH_CAPABILITIES:  # torch reads it as written: "AVX2" is ignored
        aten = chosen
    elif not flags:
        aten = f"{machine}-unknown"
    elif {"avx512f", "avx512vl", "avx512bw", "avx512dq", "fma"} <= flags:
        aten = "avx512"
    else:
        aten = "avx2" if {"avx2", "fma"} <= flags else "default"
    mkl = os.environ.get("MKL_ENABLE_INSTRUCTIONS", "").lower() or _cpu_class()
    onednn = os.environ.get("ONEDNN_MAX_CPU_ISA", "").lower()
    return f"{aten}+mkl:{mkl}" + (f"+onednn:{onednn}" if onednn else "")


def _cpu_class() -> str:
    """The CPU's vendor and best vector instruction set, as libraries that dispatch on both
    (MKL) tell machines apart: genuineintel-avx512, authenticamd-avx2, ..."""
    flags = _cpu_flags()
    isa = "avx512" if "avx512f" in flags else "avx2" if "avx2" in flags else \
        "sse" if flags else "unknown"
    return f"{_cpu_field('vendor_id').lower() or 'unknown'}-{isa}"


def check_torch_capability(keyed: str) -> None:
    """In a process that has imported torch: torch's own answer must be the one the trial was
    keyed with (torch_capability reads it without torch, from the CPU's flags).

    Raises:
        CacheError: torch picked other kernels; naming one for every machine makes both agree.
    """
    torch = sys.modules.get("torch")
    aten = keyed.split("+", 1)[0]
    if torch is None or aten not in TORCH_CAPABILITIES:
        return
    actual = str(torch.backends.cpu.get_cpu_capability()).lower()
    if actual in TORCH_CAPABILITIES and actual != aten:
        raise CacheError(f"torch runs its {actual} kernels here, where the trial was keyed for "
                         f"{aten}: set one ATEN_CPU_CAPABILITY (avx2, say) on every machine "
                         "of the sweep")


@functools.cache
def _cpu_flags() -> frozenset[str]:
    """The CPU's feature flags as Linux lists them (x86 `flags`, ARM `Features`); none where
    /proc/cpuinfo cannot be read."""
    return frozenset((_cpu_field("flags") or _cpu_field("Features")).split())


@functools.cache
def _cpu_field(field: str) -> str:
    """The first CPU's `field` in /proc/cpuinfo ("" where it has none or cannot be read)."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="ascii", errors="replace")
    except OSError:
        return ""
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name.strip() == field:
            return value.strip()
    return ""


@functools.cache
def blas_kernel() -> str:
    """numpy's BLAS and the kernel it loaded for this CPU (OpenBLAS's core: SkylakeX, Haswell,
    ...; $OPENBLAS_CORETYPE picks one), which gensim's and SciPy's OpenBLAS pick alike."""
    import numpy  # noqa: F401 - loads the BLAS that threadpoolctl reads
    from threadpoolctl import threadpool_info

    found = [library for library in threadpool_info() if library.get("user_api") == "blas"]
    # numpy's own first (a wheel's numpy.libs): a process that has loaded SciPy lists SciPy's
    # too, in load order, and the parent and a worker must read the same one
    found.sort(key=lambda library: "numpy" not in str(library.get("filepath", "")))
    if not found:
        return "none"
    return f"{found[0].get('internal_api')}:{found[0].get('architecture') or 'unknown'}"


@functools.cache
def numba_target() -> str:
    """The CPU numba compiles for: $NUMBA_CPU_NAME and $NUMBA_CPU_FEATURES, else this host's
    name and a digest of its features (as numba's own cache tells machines apart)."""
    name = os.environ.get("NUMBA_CPU_NAME")
    features = os.environ.get("NUMBA_CPU_FEATURES", "")
    if not name:
        try:
            import llvmlite.binding as llvm
        except ImportError:
            return "absent"
        name, features = llvm.get_host_cpu_name(), llvm.get_host_cpu_features().flatten()
    return f"{name}:{hashlib.sha256(features.encode()).hexdigest()[:12]}"
