"""Every backward pass of repro.scratch against torch.autograd, in float64, to 1e-10 relative."""
import itertools
import zlib

import pytest
import torch
import torch.nn.functional as F

from repro import scratch

TOL = 1e-10


pytestmark = pytest.mark.usefixtures("one_thread")


SHAPES = [(2, 3, 7, 9), (1, 2, 8, 8)]
KERNELS = [1, 2, 3, (3, 2)]
STRIDES = [1, 2, 3, (2, 1)]
PADDINGS = [0, 1, 2, (1, 0)]
DILATIONS = [1, 2, (2, 1)]
OUTPUT_PADDINGS = [0, 1, 2, (1, 0)]


def pair(v):
    return (v, v) if isinstance(v, int) else v


def rel_err(ours, ref):
    return float((ours - ref).abs().max() / ref.abs().max().clamp_min(1e-300))


def seeded(*case) -> torch.Generator:
    return torch.Generator().manual_seed(zlib.crc32(repr(case).encode()))


def reference_grads(fn, inputs, grad_out):
    leaves = [t.detach().clone().requires_grad_(True) for t in inputs]
    with torch.enable_grad():
        out = fn(*leaves)
        grads = torch.autograd.grad(out, leaves, grad_out)
    return out.detach(), grads


def conv_cases():
    for shape, k, s, p, d in itertools.product(SHAPES, KERNELS, STRIDES, PADDINGS, DILATIONS):
        (kh, kw), (ph, pw), (dh, dw) = pair(k), pair(p), pair(d)
        out_h = (shape[2] + 2 * ph - dh * (kh - 1) - 1) // pair(s)[0] + 1
        out_w = (shape[3] + 2 * pw - dw * (kw - 1) - 1) // pair(s)[1] + 1
        if out_h > 0 and out_w > 0:
            yield shape, k, s, p, d


def transpose_cases():
    for shape, k, s, p, d, op in itertools.product(SHAPES, KERNELS, STRIDES, PADDINGS, DILATIONS,
                                                   OUTPUT_PADDINGS):
        ok = all(o < st or o < di for o, st, di in zip(pair(op), pair(s), pair(d)))
        size = [(n - 1) * st - 2 * pa + di * (kk - 1) + o + 1 for n, st, pa, di, kk, o in
                zip(shape[2:], pair(s), pair(p), pair(d), pair(k), pair(op))]
        if ok and min(size) > 0:
            yield shape, k, s, p, d, op


CONV_CASES = list(conv_cases())
TRANSPOSE_CASES = list(transpose_cases())


def test_grid_is_large_and_covers_the_special_transpose_path():
    assert len(CONV_CASES) > 300 and len(TRANSPOSE_CASES) > 800
    # output_padding >= stride (allowed by dilation) takes the explicit-crop path of TransposeConv2d
    assert any(pair(op)[0] >= pair(s)[0] for _, _, s, _, _, op in TRANSPOSE_CASES)


def check_conv2d(shape, k, s, p, d):
    g = seeded(shape, k, s, p, d)
    conv = scratch.Conv2d(shape[1], 4, k, stride=s, padding=p, dilation=d, generator=g, dtype=torch.float64)
    x = torch.randn(shape, generator=g, dtype=torch.float64)
    out = conv(x)
    grad_out = torch.randn(out.shape, generator=g, dtype=torch.float64)
    ref_out, (gx, gw, gb) = reference_grads(
        lambda x_, w_, b_: F.conv2d(x_, w_, b_, stride=s, padding=p, dilation=d), [x, conv.weight, conv.bias],
        grad_out)
    grad_in = conv.backward(grad_out)
    return {"output": rel_err(out, ref_out), "input": rel_err(grad_in, gx), "weight": rel_err(conv.weight_grad, gw),
            "bias": rel_err(conv.bias_grad, gb)}


def check_transpose_conv2d(shape, k, s, p, d, op):
    g = seeded(shape, k, s, p, d, op)
    conv = scratch.TransposeConv2d(shape[1], 4, k, stride=s, padding=p, output_padding=op, dilation=d,
                                   generator=g, dtype=torch.float64)
    x = torch.randn(shape, generator=g, dtype=torch.float64)
    out = conv(x)
    grad_out = torch.randn(out.shape, generator=g, dtype=torch.float64)
    ref_out, (gx, gw, gb) = reference_grads(
        lambda x_, w_, b_: F.conv_transpose2d(x_, w_, b_, stride=s, padding=p, output_padding=op, dilation=d),
        [x, conv.weight, conv.bias], grad_out)
    assert out.shape == ref_out.shape, (shape, k, s, p, d, op)
    grad_in = conv.backward(grad_out)
    return {"output": rel_err(out, ref_out), "input": rel_err(grad_in, gx), "weight": rel_err(conv.weight_grad, gw),
            "bias": rel_err(conv.bias_grad, gb)}


# One test per (kernel, stride); each loops over its shapes, paddings, dilations (and output paddings)
# and names every failing case.
@pytest.mark.parametrize("module", ["Conv2d", "TransposeConv2d"])
@pytest.mark.parametrize("k", KERNELS, ids=str)
@pytest.mark.parametrize("s", STRIDES, ids=str)
def test_convolution_backward_matches_autograd(module, k, s):
    all_cases, check = {"Conv2d": (CONV_CASES, check_conv2d),
                        "TransposeConv2d": (TRANSPOSE_CASES, check_transpose_conv2d)}[module]
    cases = [c for c in all_cases if c[1] == k and c[2] == s]
    assert cases
    failures = {c: e for c in cases if max((e := check(*c)).values()) >= TOL}
    assert not failures, failures


def test_a_wrong_backward_would_be_caught():
    """The check itself can fail: a gradient scaled by 1 + 1e-9 is flagged."""
    g = seeded("negative control")
    conv = scratch.Conv2d(3, 4, 3, generator=g, dtype=torch.float64)
    x = torch.randn(2, 3, 7, 9, generator=g, dtype=torch.float64)
    grad_out = torch.randn(conv(x).shape, generator=g, dtype=torch.float64)
    _, (gx, _, _) = reference_grads(lambda x_, w_, b_: F.conv2d(x_, w_, b_), [x, conv.weight, conv.bias], grad_out)
    assert rel_err(conv.backward(grad_out) * (1 + 1e-9), gx) >= TOL


@pytest.mark.parametrize("layer", ["conv", "transpose"])
def test_layers_without_bias(layer):
    g = seeded(1)
    x = torch.randn(2, 3, 6, 6, generator=g, dtype=torch.float64)
    if layer == "conv":
        m = scratch.Conv2d(3, 5, 3, stride=2, padding=1, bias=False, generator=g, dtype=torch.float64)
        fn = lambda x_, w_: F.conv2d(x_, w_, None, stride=2, padding=1)  # noqa: E731
    else:
        m = scratch.TransposeConv2d(3, 5, 3, stride=2, padding=1, output_padding=1, bias=False, generator=g,
                                    dtype=torch.float64)
        fn = lambda x_, w_: F.conv_transpose2d(x_, w_, None, stride=2, padding=1, output_padding=1)  # noqa: E731
    out = m(x)
    grad_out = torch.randn(out.shape, generator=g, dtype=torch.float64)
    _, (gx, gw) = reference_grads(fn, [x, m.weight], grad_out)
    assert [name for name, _, _ in m.named_param()] == ["weight"]
    assert rel_err(m.backward(grad_out), gx) < TOL and rel_err(m.weight_grad, gw) < TOL


def test_transpose_rejects_output_padding_not_below_stride_or_dilation():
    with pytest.raises(ValueError, match="output_padding"):
        scratch.TransposeConv2d(2, 2, 3, stride=2, output_padding=2)


@pytest.mark.parametrize("module,fn", [(scratch.ReLU, torch.relu), (scratch.Sigmoid, torch.sigmoid)])
@pytest.mark.parametrize("shape", [(5,), (2, 3, 4, 5)])
def test_activations_match_autograd(module, fn, shape):
    g = torch.Generator().manual_seed(2)
    x = torch.randn(shape, generator=g, dtype=torch.float64) * 3
    m = module()
    out = m(x)
    grad_out = torch.randn(shape, generator=g, dtype=torch.float64)
    ref_out, (gx,) = reference_grads(fn, [x], grad_out)
    assert rel_err(out, ref_out) < TOL and rel_err(m.backward(grad_out), gx) < TOL


@pytest.mark.parametrize("shape", [(7,), (4, 3, 5, 5)])
def test_mse_matches_autograd(shape):
    g = torch.Generator().manual_seed(3)
    pred, target = (torch.randn(shape, generator=g, dtype=torch.float64) for _ in range(2))
    loss = scratch.MSE()
    value = loss(pred, target)
    one = torch.tensor(1.0, dtype=torch.float64)
    ref_value, (gp,) = reference_grads(lambda p_: F.mse_loss(p_, target), [pred], one)
    assert rel_err(value, ref_value) < TOL and rel_err(loss.backward(), gp) < TOL


def _functional(model):
    """The scratch Sequential as a torch function of (x, *params), for autograd."""
    def fn(x, *params):
        it = iter(params)
        for m in model.modules:
            if isinstance(m, scratch.Conv2d):
                x = F.conv2d(x, next(it), next(it), stride=m.stride, padding=m.padding, dilation=m.dilation)
            elif isinstance(m, scratch.TransposeConv2d):
                x = F.conv_transpose2d(x, next(it), next(it), stride=m.stride, padding=m.padding,
                                       output_padding=m.output_padding, dilation=m.dilation)
            elif isinstance(m, scratch.ReLU):
                x = torch.relu(x)
            else:
                x = torch.sigmoid(x)
        return x
    return fn


@pytest.mark.parametrize("channel_factor,kernel_size", [(8, 3), (2, 5), (4, 3)])
def test_whole_course_model_with_mse_matches_autograd(channel_factor, kernel_size):
    g = torch.Generator().manual_seed(4)
    net = scratch.course_model(channel_factor, kernel_size, generator=g, dtype=torch.float64)
    x = torch.rand(3, 3, 32, 32, generator=g, dtype=torch.float64)
    target = torch.rand(3, 3, 32, 32, generator=g, dtype=torch.float64)
    loss = scratch.MSE()
    value = loss(net(x), target)
    net.zero_grad()
    grad_in = net.backward(loss.backward())
    params = [t for t, _ in net.param()]
    fn = _functional(net)
    ref_value, grads = reference_grads(lambda x_, *p: F.mse_loss(fn(x_, *p), target), [x, *params],
                                       torch.tensor(1.0, dtype=torch.float64))
    assert rel_err(value, ref_value) < TOL
    assert rel_err(grad_in, grads[0]) < TOL
    for (name, _, ours), ref in zip(net.named_param(), grads[1:]):
        assert rel_err(ours, ref) < TOL, name


def test_gradients_accumulate_until_zeroed_like_torch():
    g = torch.Generator().manual_seed(5)
    conv = scratch.Conv2d(2, 3, 3, generator=g, dtype=torch.float64)
    x = torch.randn(1, 2, 5, 5, generator=g, dtype=torch.float64)
    grad_out = torch.randn(1, 3, 3, 3, generator=g, dtype=torch.float64)
    conv(x)
    conv.backward(grad_out)
    once = conv.weight_grad.clone()
    conv(x)
    conv.backward(grad_out)
    assert torch.allclose(conv.weight_grad, 2 * once)
    conv.zero_grad()
    assert not conv.weight_grad.any()


def test_framework_builds_no_autograd_graph_even_when_grad_is_enabled():
    net = scratch.course_model(channel_factor=2)
    x = torch.rand(2, 3, 32, 32, requires_grad=True)
    with torch.enable_grad():
        out = net(x)
        grad = net.backward(torch.ones_like(out))
    assert out.grad_fn is None and grad.grad_fn is None
    assert not any(t.requires_grad for t, _ in net.param())


def test_default_init_follows_torch_bounds():
    conv = scratch.Conv2d(24, 192, 3)
    up = scratch.TransposeConv2d(192, 24, 3)
    assert conv.weight.abs().max() <= 1 / (24 * 9) ** 0.5
    assert conv.weight.abs().max() > 0.9 / (24 * 9) ** 0.5  # it fills the interval
    assert up.weight.abs().max() <= 1 / (24 * 9) ** 0.5  # torch's fan_in of a transposed conv is C_out*k*k
    assert up.bias.abs().max() <= 1 / (24 * 9) ** 0.5
