#!/usr/bin/python3
"""Generates normkit's PyTorch golden vectors: src/test/resources/golden/.

Run from the repository root with the Python that has PyTorch (1.13) and numpy:

    /usr/bin/python3 tools/golden/generate_golden.py

Every case draws its inputs as float32 from numpy's generator seeded with the case's seed (so the float32 files hold
exactly the values the reference saw), computes forward and backward in float64 in torch, and stores every tensor as
a float32 .npy file in golden/<case>/: inputs in_<name>.npy, expected outputs out_<name>.npy. manifest.txt lists one
case per line:

    <case> op=<op> seed=<seed> <param>=<value> ... in:<tensor>=<shape> ... out:<tensor>=<shape> ...

ops and their parameters (names as in PyTorch):
  batch_norm     training, momentum, eps              in: x [weight bias] [running_mean running_var] grad_output
  layer_norm     normalized_shape, eps                in: x [weight bias] grad_output
  group_norm     num_groups, eps                      in: x [weight bias] grad_output
  instance_norm  use_input_stats, momentum, eps       in: x [weight bias] [running_mean running_var] grad_output
  weight_std     variant (seed|bn|scaled), eps, gamma in: x (the weight) [gain] grad_output
  std_conv2d     variant, eps, gamma, stride, padding, dilation, groups
                                                      in: x weight [bias] [gain] grad_output
outputs: y, running_mean/running_var (updated, where given), grad_input, grad_weight, grad_bias, grad_gain.

Weight standardization (CONVENTIONS.md): seed = the seed document's Conv2d, (w - mean) / (w.std(unbiased) + eps);
bn = timm StdConv2d, F.batch_norm(w.reshape(1, O, -1), None, None, training=True, momentum=0., eps=eps);
scaled = timm ScaledStdConv2d, the same with weight=(gain * gamma * K ** -0.5).view(-1).
"""

import os
import shutil
import sys

import numpy as np
import torch
import torch.nn.functional as F

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "src", "test", "resources", "golden")


def shape_text(shape):
    return "(" + ",".join(str(d) for d in shape) + ")"


class Case:
    """One case: float32 inputs drawn from its seed, float64 torch tensors made from them, float32 files out.

    generate_special.py reuses the cases with float32 compute and a transform of x (NaN, infinity, huge, tiny values,
    an empty batch): the class attributes below."""

    dtype = torch.float64
    x_transform = staticmethod(lambda a: a)

    def __init__(self, name, op, seed, **params):
        self.name, self.op, self.seed, self.params = name, op, seed, params
        self.rng = np.random.default_rng(seed)
        self.inputs, self.outputs = {}, {}

    def normal(self, name, shape, mean=0.0, std=1.0, grad=False):
        a = (mean + std * self.rng.standard_normal(shape)).astype(np.float32)
        return self._input(name, a, grad)

    def uniform(self, name, shape, lo, hi, grad=False):
        a = self.rng.uniform(lo, hi, shape).astype(np.float32)
        return self._input(name, a, grad)

    def _input(self, name, a, grad):
        if name == "x":
            a = Case.x_transform(a)
        self.inputs[name] = a
        return torch.tensor(a, dtype=Case.dtype, requires_grad=grad)

    def output(self, name, t):
        self.outputs[name] = t.detach().numpy().astype(np.float32)

    def backward(self, y, grads):
        """Backpropagates a random grad_output through y; grads maps output names to leaf tensors (or None)."""
        dy = self.normal("grad_output", tuple(y.shape))
        y.backward(dy)
        self.output("y", y)
        for name, leaf in grads.items():
            if leaf is not None:
                self.output(name, leaf.grad)

    def write(self, manifest, root=None):
        d = os.path.join(root or ROOT, self.name)
        os.makedirs(d)
        for prefix, tensors in (("in", self.inputs), ("out", self.outputs)):
            for name, a in tensors.items():
                np.save(os.path.join(d, prefix + "_" + name + ".npy"), np.ascontiguousarray(a, dtype="<f4"))
        fields = [self.name, "op=" + self.op, "seed=" + str(self.seed)]
        fields += [k + "=" + (shape_text(v) if isinstance(v, tuple) else str(v)) for k, v in self.params.items()]
        fields += ["in:" + k + "=" + shape_text(v.shape) for k, v in self.inputs.items()]
        fields += ["out:" + k + "=" + shape_text(v.shape) for k, v in self.outputs.items()]
        manifest.append(" ".join(fields))


def affine(case, channels_shape, on):
    if not on:
        return None, None
    return (case.uniform("weight", channels_shape, 0.5, 1.5, grad=True),
            case.normal("bias", channels_shape, std=0.5, grad=True))


def running_stats(case, channels, on):
    if not on:
        return None, None
    return (case.normal("running_mean", (channels,), std=0.5),
            case.uniform("running_var", (channels,), 0.5, 2.0))


def batch_or_instance_norm(cases, name, op, seed, shape, training, with_affine, with_running, momentum=0.1, eps=1e-5,
                           mean=0.0, std=1.0):
    key = "training" if op == "batch_norm" else "use_input_stats"
    c = Case(name, op, seed, **{key: str(training).lower()}, momentum=momentum, eps=eps)
    x = c.normal("x", shape, mean, std, grad=True)
    w, b = affine(c, (shape[1],), with_affine)
    rm, rv = running_stats(c, shape[1], with_running)
    if op == "batch_norm":
        y = F.batch_norm(x, rm, rv, w, b, training, momentum, eps)
    else:
        y = F.instance_norm(x, rm, rv, w, b, training, momentum, eps)
    c.backward(y, {"grad_input": x, "grad_weight": w, "grad_bias": b})
    if with_running:
        c.output("running_mean", rm)  # updated in place in training, unchanged otherwise
        c.output("running_var", rv)
    cases.append(c)


def layer_norm(cases, name, seed, shape, normalized, with_affine, eps=1e-5):
    c = Case(name, "layer_norm", seed, normalized_shape=tuple(normalized), eps=eps)
    x = c.normal("x", shape, grad=True)
    w, b = affine(c, tuple(normalized), with_affine)
    y = F.layer_norm(x, tuple(normalized), w, b, eps)
    c.backward(y, {"grad_input": x, "grad_weight": w, "grad_bias": b})
    cases.append(c)


def group_norm(cases, name, seed, shape, groups, with_affine, eps=1e-5):
    c = Case(name, "group_norm", seed, num_groups=groups, eps=eps)
    x = c.normal("x", shape, grad=True)
    w, b = affine(c, (shape[1],), with_affine)
    y = F.group_norm(x, groups, w, b, eps)
    c.backward(y, {"grad_input": x, "grad_weight": w, "grad_bias": b})
    cases.append(c)


def standardize(w, variant, eps, gain=None, gamma=1.0):
    """The three weight-standardization formulas of CONVENTIONS.md, as their sources write them."""
    o = w.shape[0]
    if variant == "seed":
        flat = w.reshape(o, -1)
        centered = flat - flat.mean(dim=1, keepdim=True)
        return (centered / (flat.std(dim=1, keepdim=True) + eps)).reshape_as(w)
    if variant == "bn":
        return F.batch_norm(w.reshape(1, o, -1), None, None, training=True, momentum=0., eps=eps).reshape_as(w)
    k = w[0].numel()
    scale = (gain * gamma * k ** -0.5).view(-1)
    return F.batch_norm(w.reshape(1, o, -1), None, None, weight=scale, training=True, momentum=0.,
                        eps=eps).reshape_as(w)


def weight_std(cases, name, seed, shape, variant, eps, gamma=1.0):
    c = Case(name, "weight_std", seed, variant=variant, eps=eps, gamma=gamma)
    w = c.normal("x", shape, std=0.1, grad=True)
    gain = c.uniform("gain", (shape[0],), 0.5, 1.5, grad=True) if variant == "scaled" else None
    y = standardize(w, variant, eps, gain, gamma)
    c.backward(y, {"grad_input": w, "grad_gain": gain})
    cases.append(c)


def std_conv2d(cases, name, seed, x_shape, w_shape, variant, eps, stride, padding, dilation, groups, with_bias,
               gamma=1.0):
    c = Case(name, "std_conv2d", seed, variant=variant, eps=eps, gamma=gamma, stride=stride, padding=padding,
             dilation=dilation, groups=groups)
    x = c.normal("x", x_shape, grad=True)
    w = c.normal("weight", w_shape, std=0.1, grad=True)
    b = c.normal("bias", (w_shape[0],), std=0.1, grad=True) if with_bias else None
    gain = c.uniform("gain", (w_shape[0],), 0.5, 1.5, grad=True) if variant == "scaled" else None
    y = F.conv2d(x, standardize(w, variant, eps, gain, gamma), b, stride, padding, dilation, groups)
    c.backward(y, {"grad_input": x, "grad_weight": w, "grad_bias": b, "grad_gain": gain})
    cases.append(c)


def all_cases():
    cases = []
    bn = "batch_norm"
    batch_or_instance_norm(cases, "bn_train_2d_affine_running", bn, 101, (8, 3), True, True, True)
    batch_or_instance_norm(cases, "bn_train_3d_running", bn, 102, (4, 3, 7), True, False, True, momentum=0.3)
    batch_or_instance_norm(cases, "bn_train_4d_affine_running", bn, 103, (4, 3, 5, 5), True, True, True)
    batch_or_instance_norm(cases, "bn_train_5d_affine", bn, 104, (2, 3, 3, 4, 2), True, True, False, eps=1e-3)
    batch_or_instance_norm(cases, "bn_train_4d_offset", bn, 105, (4, 3, 5, 5), True, True, True, mean=50.0, std=0.5)
    batch_or_instance_norm(cases, "bn_eval_4d_affine", bn, 106, (4, 3, 5, 5), False, True, True)
    batch_or_instance_norm(cases, "bn_eval_2d", bn, 107, (8, 3), False, False, True)
    batch_or_instance_norm(cases, "bn_eval_5d_affine", bn, 108, (2, 3, 2, 3, 2), False, True, True)

    layer_norm(cases, "ln_last_dim_affine", 201, (4, 3, 8), (8,), True)
    layer_norm(cases, "ln_two_dims_affine", 202, (2, 3, 4, 5), (4, 5), True)
    layer_norm(cases, "ln_three_dims_affine", 203, (2, 3, 4, 5), (3, 4, 5), True)
    layer_norm(cases, "ln_2d_input", 204, (4, 6), (6,), False)
    layer_norm(cases, "ln_5d_input_affine", 205, (2, 3, 2, 3, 4), (3, 4), True, eps=1e-3)

    group_norm(cases, "gn_g1_affine", 301, (2, 6, 4, 4), 1, True)
    group_norm(cases, "gn_g2_affine", 302, (2, 6, 4, 4), 2, True)
    group_norm(cases, "gn_g3_3d_affine", 303, (2, 6, 10), 3, True)
    group_norm(cases, "gn_g6_per_channel", 304, (2, 6, 4, 4), 6, False)
    group_norm(cases, "gn_g2_5d_affine", 305, (2, 4, 2, 3, 3), 2, True)
    group_norm(cases, "gn_g3_2d_affine", 306, (4, 6), 3, True, eps=1e-3)

    inn = "instance_norm"
    batch_or_instance_norm(cases, "in_4d", inn, 401, (2, 3, 5, 5), True, False, False)
    batch_or_instance_norm(cases, "in_3d_affine", inn, 402, (2, 3, 9), True, True, False)
    batch_or_instance_norm(cases, "in_4d_affine_running", inn, 403, (2, 3, 4, 4), True, True, True, momentum=0.2)
    batch_or_instance_norm(cases, "in_eval_4d_affine", inn, 404, (2, 3, 4, 4), False, True, True)
    batch_or_instance_norm(cases, "in_5d_running", inn, 405, (2, 3, 2, 3, 3), True, False, True)

    weight_std(cases, "ws_seed", 501, (4, 3, 3, 3), "seed", 1e-5)
    weight_std(cases, "ws_seed_linear", 502, (5, 7), "seed", 1e-5)
    weight_std(cases, "ws_seed_eps", 503, (4, 3, 3, 3), "seed", 1e-2)
    weight_std(cases, "ws_bn", 504, (4, 3, 3, 3), "bn", 1e-6)
    weight_std(cases, "ws_scaled", 505, (4, 3, 3, 3), "scaled", 1e-6)
    weight_std(cases, "ws_scaled_gamma", 506, (6, 2, 1, 3), "scaled", 1e-6, gamma=1.7015043497085571)

    std_conv2d(cases, "conv_bn_pad1_bias", 601, (2, 4, 6, 6), (6, 4, 3, 3), "bn", 1e-6, 1, 1, 1, 1, True)
    std_conv2d(cases, "conv_seed_stride2", 602, (2, 4, 7, 7), (4, 4, 3, 3), "seed", 1e-5, 2, 0, 1, 1, False)
    std_conv2d(cases, "conv_scaled_groups2_dilation2", 603, (2, 4, 7, 7), (6, 2, 3, 3), "scaled", 1e-6, 1, 2, 2, 2,
               True)
    std_conv2d(cases, "conv_bn_asymmetric", 604, (1, 3, 5, 8), (2, 3, 3, 2), "bn", 1e-6, (1, 2), (1, 0), 1, 1, True)
    return cases


def main():
    torch.manual_seed(0)
    if os.path.isdir(ROOT):
        shutil.rmtree(ROOT)
    os.makedirs(ROOT)
    manifest = []
    for case in all_cases():
        case.write(manifest)
    header = ["# normkit golden vectors, generated by tools/golden/generate_golden.py with torch "
              + torch.__version__ + ", numpy " + np.__version__ + " (float64 compute, float32 files)",
              "# <case> op=<op> seed=<seed> <param>=<value> ... in:<tensor>=<shape> ... out:<tensor>=<shape> ..."]
    with open(os.path.join(ROOT, "manifest.txt"), "w") as f:
        f.write("\n".join(header + manifest) + "\n")
    print("wrote", len(manifest), "cases to", os.path.normpath(ROOT), file=sys.stderr)


if __name__ == "__main__":
    main()
