#!/usr/bin/python3
"""Runs normkit's `bench` and the same cases in PyTorch (Debian's python3-torch) on this machine, one after the
other, and prints both side by side with the ratio normkit / PyTorch of the median times per case.

    /usr/bin/python3 tools/bench/compare_pytorch.py [--threads 1,2] [--quick] [--rounds N] [--jar target/normkit.jar]
                                                   [--json out.json] [--normkit-json F] [--pytorch-json F]

--rounds N (default 2) runs the pair N times, normkit then PyTorch, and keeps each case's best median on each side:
on a shared VM the memory bandwidth drifts over minutes (a DRAM-sized case's median moved by up to 1.5x between two
runs an hour apart), and a single run lets that drift fall on one side only.

The cases are read from normkit's own --json output (op, pass, layout, shape, params, threads), so the two always
measure the same list. PyTorch times are medians of single calls after warm-up, like normkit's; the backward pass
is timed as torch.autograd.grad of the op's output w.r.t. its inputs (x, weight, bias) with a fixed grad_output and
retain_graph, i.e. the backward kernels alone.
"""
import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time

import torch
import torch.nn.functional as F

EPS = 1e-5


def median_ns(fn, quick):
    warm, budget, min_calls = (0.02, 0.06, 5) if quick else (0.15, 0.4, 15)
    t0 = time.perf_counter()
    n = 0
    while n < 3 or time.perf_counter() - t0 < warm:
        fn()
        n += 1
    times = []
    t0 = time.perf_counter()
    while len(times) < min_calls or (time.perf_counter() - t0 < budget and len(times) < 20000):
        s = time.perf_counter_ns()
        fn()
        times.append(time.perf_counter_ns() - s)
    return statistics.median(times)


def make_input(shape, layout, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(*shape, generator=g) * 4 - 2
    if layout == "nhwc" and len(shape) == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    elif layout == "nhwc" and len(shape) == 5:
        x = x.contiguous(memory_format=torch.channels_last_3d)
    elif layout == "nhwc" and len(shape) == 3:
        x = x.transpose(1, 2).contiguous().transpose(1, 2)  # NLC memory, logical NCL
    return x


def std_weight_seed(w, eps=1e-5):
    """The seed's Conv2d weight standardization (unbiased std, eps added to the std)."""
    mean = w.mean(dim=(1, 2, 3), keepdim=True)
    w = w - mean
    std = w.view(w.size(0), -1).std(dim=1).view(-1, 1, 1, 1) + eps
    return w / std


def case_fn(rec):
    """A zero-argument callable running the case's pass in PyTorch."""
    op, pas, layout, shape, params = rec["op"], rec["pass"], rec["layout"], rec["shape"], rec["params"]
    x = make_input(shape, layout, 1)
    c = shape[1]
    backward = pas == "backward"
    if op == "weight-std":
        w = x.clone().requires_grad_(backward)
        if not backward:
            return lambda: std_weight_seed(w)
        y = std_weight_seed(w)
        dy = torch.rand_like(y)
        return lambda: torch.autograd.grad(y, (w,), dy, retain_graph=True)
    if op == "std-conv2d":
        out, k = params["out_channels"], params["kernel"]
        w = (torch.rand(out, c, k, k) * 0.2 - 0.1).requires_grad_(backward)
        b = torch.full((out,), 0.1).requires_grad_(backward)
        xi = x.clone().requires_grad_(backward)

        def fwd():
            return F.conv2d(xi, std_weight_seed(w), b, params["stride"], params["padding"])

        if not backward:
            return fwd
        y = fwd()
        dy = make_input(list(y.shape), layout, 2)
        return lambda: torch.autograd.grad(y, (xi, w, b), dy, retain_graph=True)
    if op == "layer-norm":
        pshape = tuple(params["normalized_shape"])
        weight, bias = torch.full(pshape, 1.5), torch.full(pshape, 0.25)
    else:
        weight, bias = torch.full((c,), 1.5), torch.full((c,), 0.25)
    rm, rv = torch.zeros(c), torch.ones(c)
    xi = x.clone().requires_grad_(backward)
    wi, bi = weight.clone().requires_grad_(backward), bias.clone().requires_grad_(backward)
    if op == "batch-norm":
        training = pas != "forward-inference"
        fwd = lambda: F.batch_norm(xi, rm, rv, wi, bi, training, 0.1, EPS)
    elif op == "instance-norm":
        use_input = pas != "forward-inference"
        fwd = lambda: F.instance_norm(xi, rm, rv, wi, bi, use_input, 0.1, EPS)
    elif op == "group-norm":
        fwd = lambda: F.group_norm(xi, params["groups"], wi, bi, EPS)
    elif op == "layer-norm":
        fwd = lambda: F.layer_norm(xi, tuple(params["normalized_shape"]), wi, bi, EPS)
    else:
        raise ValueError(op)
    if not backward:
        return fwd
    y = fwd()
    dy = make_input(shape, layout, 2)
    return lambda: torch.autograd.grad(y, (xi, wi, bi), dy, retain_graph=True)


def run_round(args, r):
    """One normkit bench run (or the given --normkit-json) and PyTorch on its cases; the joined records."""
    if args.normkit_json:
        with open(args.normkit_json) as f:
            nk = json.load(f)
    else:
        with tempfile.NamedTemporaryFile(suffix=".json") as tmp:
            cmd = ["java", "-jar", args.jar, "bench", "--threads", args.threads, "--json", tmp.name]
            if args.quick:
                cmd.append("--quick")
            print(f"round {r + 1}, running:", " ".join(cmd), file=sys.stderr)
            subprocess.run(cmd, check=True, stdout=sys.stderr)
            with open(tmp.name) as f:
                nk = json.load(f)
    rows = []
    for rec in nk:
        torch.set_num_threads(rec["threads"])
        pt_ns = median_ns(case_fn(rec), args.quick)
        row = dict(rec, pytorch_median_ns=pt_ns, normkit_over_pytorch=rec["median_ns"] / pt_ns)
        rows.append(row)
        print_row(row)
    return rows


def print_row(row):
    shape = "x".join(str(d) for d in row["shape"])
    print(f"{row['op']:<14} {row['pass']:<18} {row['layout']:<5} {shape:<14} {row['threads']:>2}  "
          f"normkit {row['median_ns'] / 1e3:10.1f} us  pytorch {row['pytorch_median_ns'] / 1e3:10.1f} us  "
          f"ratio {row['median_ns'] / row['pytorch_median_ns']:5.2f}  probe-ratio {row['ratio']:4.2f}", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jar", default="target/normkit.jar")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--rounds", type=int, default=2, help="normkit-then-PyTorch runs; each side's best median is kept")
    ap.add_argument("--normkit-json", help="reuse a normkit bench --json file instead of running the bench")
    ap.add_argument("--pytorch-json", help="also write PyTorch's medians here")
    ap.add_argument("--json", help="write the joined comparison here")
    args = ap.parse_args()

    if args.rounds < 1:
        ap.error(f"--rounds must be at least 1, got {args.rounds}")
    rounds = 1 if args.normkit_json else args.rounds
    rows = None
    for r in range(rounds):
        round_rows = run_round(args, r)
        if rows is None:
            rows = round_rows
            continue
        for i, row in enumerate(round_rows):  # the same case list every round: keep each side's best
            if row["median_ns"] < rows[i]["median_ns"]:
                rows[i] = dict(row, pytorch_median_ns=rows[i]["pytorch_median_ns"])
            rows[i]["pytorch_median_ns"] = min(rows[i]["pytorch_median_ns"], row["pytorch_median_ns"])
    for row in rows:
        row["normkit_over_pytorch"] = row["median_ns"] / row["pytorch_median_ns"]
    if rounds > 1:
        print(f"\nbest of {rounds} rounds:", flush=True)
        for row in rows:
            print_row(row)
    worst = max(rows, key=lambda r: r["normkit_over_pytorch"])
    print(f"\ncases: {len(rows)}; normkit/PyTorch median time ratio: max {worst['normkit_over_pytorch']:.2f} "
          f"({worst['op']} {worst['pass']} {worst['layout']} {worst['shape']} threads {worst['threads']}), "
          f"cases above 0.8: {sum(r['normkit_over_pytorch'] > 0.8 for r in rows)}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    if args.pytorch_json:
        with open(args.pytorch_json, "w") as f:
            json.dump([{k: r[k] for k in ("op", "pass", "layout", "shape", "params", "threads", "pytorch_median_ns")}
                       for r in rows], f, indent=1)


if __name__ == "__main__":
    main()
