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
