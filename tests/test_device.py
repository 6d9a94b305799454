import resource

import pytest
import torch

from repro import budgets, device
from repro.device import keep_freed_memory, resolve_device

PAGE = resource.getpagesize()


def test_a_full_size_fit_does_not_fault_its_activations_in_at_every_step():
    """glibc's default unmaps every freed block over 32 MB: a 768x512 ZS-N2N step then page-faults ~88,000
    times (results/timing/allocator.csv). With freed memory kept, steps after the first reuse the heap."""
    from repro.methods import zsn2n

    if not keep_freed_memory():
        pytest.skip("the allocator setting needs Linux with glibc")
    y = torch.rand((1, 3, 512, 768), generator=torch.Generator().manual_seed(0))
    cpu = torch.device("cpu")
    for steps in (3, 4):  # the heap grows to the fit's working set in the first fits, then stays
        zsn2n.fit(y, steps, "fast", cpu, 0)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    zsn2n.fit(y, 8, "fast", cpu, 0)
    per_step = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 8
    activation_pages = 48 * 512 * 768 * 2 // PAGE  # one bf16 feature map of the first convolution
    assert per_step < activation_pages / 2, f"{per_step:.0f} page faults per step"


def test_resolving_a_device_keeps_freed_memory_and_rejects_unknown_budgets():
    device._kept = None  # as in a fresh process: nothing decided yet
    assert resolve_device("cpu").type == "cpu"
    assert device._kept is not None, "resolve_device did not apply keep_freed_memory"
    assert keep_freed_memory() is device._kept  # idempotent: a second call answers the first one's result
    assert budgets.resolve("auto", torch.device("cpu")) == "cpu"
    with pytest.raises(ValueError, match="budget must be"):
        budgets.resolve("fast")


def test_auto_precision_is_bf16_only_where_the_cpu_has_bf16_arithmetic():
    emulating = "processor : 0\nflags : fpu sse2 avx2 avx512f avx512bw avx512_vnni\n"  # bf16 only by conversion
    native = emulating.replace("avx512_vnni", "avx512_vnni avx512_bf16")
    amx = emulating + "processor : 1\nflags : amx_tile amx_bf16\n"  # only the first CPU is read
    cpu = torch.device("cpu")
    assert device.resolve_precision("auto", cpu, emulating) == "fp32"
    assert device.resolve_precision("auto", cpu, native) == "bf16"
    assert device.resolve_precision("auto", cpu, amx) == "fp32"
    assert device.resolve_precision("auto", cpu, "Features : fp asimd bf16\n") == "bf16"  # aarch64
    assert device.resolve_precision("auto", cpu, "") == "fp32"  # nothing known: the safe choice
    assert [device.resolve_precision(p, cpu, emulating) for p in ("fp32", "bf16")] == ["fp32", "bf16"]
    with pytest.raises(ValueError, match="'auto' or one of fp32, bf16"):
        device.resolve_precision("fp16", cpu)


def test_notebooks_accept_auto_precision_and_refuse_others():
    from repro.notebook import ParameterError, check_parameters

    namespace = {"__annotations__": {"precision": str}, "precision": "auto"}
    check_parameters(namespace)
    with pytest.raises(ParameterError, match="precision"):
        check_parameters({**namespace, "precision": "fp16"})
