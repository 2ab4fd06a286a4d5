"""Cap the instruction set torch's CPU kernels use, so that a newer CPU computes an older
one's bits.

ATen (torch's own kernels) and oneDNN (its convolutions) each pick kernels by the widest
instruction set the CPU has. So the same torch build gives other bits on an AVX-512 CPU
than on an AVX2 one, and SGD grows those last-bit differences over a training until two
runs are as far apart as two seeds. Both libraries read a cap from the environment when
they first dispatch: ``ATEN_CPU_CAPABILITY`` and ``ONEDNN_MAX_CPU_ISA``.

Measured on 2026-12-07 on an AVX-512 AMD EPYC, against the shipped default table (trained
on CPUs whose ATen dispatched at AVX2): with both capped at AVX2, every row checked
retrained bitwise (``nasrepro reproduce``; see the README's reproducibility section for
the counts), with torch 2.14.1+cu130 and 2.13.0+cpu alike. With ATen's cap alone, or
oneDNN's alone, the rows differed from the second epoch on (uncapped, from the first). On an AVX-512 Intel Xeon
(2026-12-02) the same caps did not give the table's bits, so the CPU vendor matters too.

Torch-free: the caps must be set before torch is imported (the command line sets them
from ``--cpu-isa`` before any command loads torch).
"""

from __future__ import annotations

import os
import sys

from nasrepro.spaces._errors import ConfigError

__all__ = ["CPU_ISAS", "cap_cpu_isa"]

#: The caps offered, by name: ``(ATEN_CPU_CAPABILITY, ONEDNN_MAX_CPU_ISA)``. Only AVX2 is
#: offered, the cap that was measured to reproduce a table (above).
CPU_ISAS: dict[str, tuple[str, str]] = {"avx2": ("avx2", "AVX2")}


def cap_cpu_isa(isa: str) -> None:
    """Cap ATen's and oneDNN's CPU kernels at ``isa`` (a key of :data:`CPU_ISAS`) for this
    process and the processes it starts (sweep workers inherit the environment).

    Results record the cap: ``cpu_capability`` (what ATen dispatches to) and
    ``onednn_max_cpu_isa`` in their versions.

    Raises:
        ConfigError: ``isa`` is not offered, or torch is already loaded with other caps
            (they are read once, when torch first dispatches).
    """
    if isa not in CPU_ISAS:
        raise ConfigError(
            f"unknown CPU instruction-set cap {isa!r}; choose one of {sorted(CPU_ISAS)}"
        )
    aten, onednn = CPU_ISAS[isa]
    if "torch" in sys.modules:
        import torch

        have = torch.backends.cpu.get_cpu_capability().lower()
        if have == aten and os.environ.get("ONEDNN_MAX_CPU_ISA") == onednn:
            return
        raise ConfigError(
            f"torch is already loaded (ATen dispatches at {have.upper()}), so the CPU "
            f"instruction set can no longer be capped at {isa}; set "
            f"ATEN_CPU_CAPABILITY={aten} ONEDNN_MAX_CPU_ISA={onednn} in the environment "
            "before starting Python, or call cap_cpu_isa before importing torch"
        )
    os.environ["ATEN_CPU_CAPABILITY"] = aten
    os.environ["ONEDNN_MAX_CPU_ISA"] = onednn
