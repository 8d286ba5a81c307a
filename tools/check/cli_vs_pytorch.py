#!/usr/bin/python3
"""External check of the normkit CLI (`java -jar normkit.jar run OP ...`) against PyTorch in float64.

What it checks
--------------
Random cases (default 200, reproducible from --seed) spread round-robin over every op of `normkit run`:
batch-norm (train/eval, running statistics in and/or out, momentum), layer-norm (normalized shape = 1..rank
trailing dims), group-norm (groups dividing C), instance-norm (train with input statistics, eval with running
statistics, affine optional, running statistics updated as F.instance_norm does) and weight-std
(--variant seed|bn|scaled), over --backend native|java x --layout nchw|nhwc, logical shapes (N, C) and
(N, C, *S) with 1 to 3 spatial dims (N = 1, C = 1, spatial sizes of 1, odd channel counts, up to ~1.5M values),
affine on/off, non-default eps/momentum, and backward (--grad-output -> --grad-input [--grad-weight/--grad-bias])
in about half the cases. Some cases write their inputs as float64 .npy files (the CLI converts them).

The expected values are computed by PyTorch in float64 from the same float32-rounded inputs the CLI reads:
torch.nn.functional.batch_norm / layer_norm / group_norm / instance_norm, and autograd for every gradient. Weight
standardization is written out in torch (CONVENTIONS.md; the CLI passes no gain and gamma, i.e. gain = gamma = 1):
    seed   (w - mean) / (std_unbiased + eps)                   eps default 1e-5
    bn     (w - mean) / sqrt(var_biased + eps)                 eps default 1e-6
    scaled K^-0.5 * (w - mean) / sqrt(var_biased + eps)        eps default 1e-6
per output filter over its K values, and autograd gives the gradient with respect to the raw weight.

How errors are scaled
---------------------
For every output tensor:   scaled error = max|normkit - torch64| / max(1, max|torch64|)
i.e. the absolute error relative to the tensor's largest value, with the scale floored at 1 (small tensors are held
to an absolute 1e-4). A check passes when the scaled error is <= 1e-4 (and shapes match, values are finite where
torch's are, and the file is float32). The unfloored relative error max|diff| / max|torch64| is also recorded
(informational: it is large only for tensors that are ~0 in exact arithmetic, e.g. dx of sets of 1 or 2 values).
For every output the same reference is also computed by PyTorch in float32, and its scaled error against float64 is
reported next to normkit's: an error where PyTorch float32 is about as far off is a float32 limitation, not a bug.
Inputs come in four magnitude classes, one of them with a large common offset (|mean| 100..1000, std 0.5..3),
where a float32 E[x^2] - E[x]^2 would lose every digit.

Bad-input battery (--bad)
-------------------------
Invalid invocations (malformed .npy files, invalid shapes and values, unknown or incomplete options, ...); each
must exit 2 with exactly one stderr line starting with 'error: ', leave its fresh output paths unwritten (and its
output directory, the JVM's working directory, empty: no temporary files, no hs_err_pid*.log).

Usage
-----
    /usr/bin/python3 tools/check/cli_vs_pytorch.py [--cases N] [--seed S] [--jar target/normkit.jar] [--json F]
                                                   [--bad] [--only I[,I...]] [--keep DIR]
--bad alone runs only the battery; with --cases too, both. --only reruns selected case indices of a seed.
The jar is copied to a temporary snapshot first, so that a concurrent rebuild cannot change it mid-run.
The exit status is 1 if any check fails.
"""

import argparse
import hashlib
import json
import math
import os
import random
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile

import numpy as np
import torch
import torch.nn.functional as F

TOL = 1e-4
OPS = ["batch-norm", "layer-norm", "group-norm", "instance-norm", "weight-std"]
COMBOS = [("native", "nchw"), ("java", "nchw"), ("native", "nhwc"), ("java", "nhwc")]
# output name -> CLI option that writes it
OUT_OPTS = {"y": "--output", "running_mean": "--out-running-mean", "running_var": "--out-running-var",
            "grad_input": "--grad-input", "grad_weight": "--grad-weight", "grad_bias": "--grad-bias"}
WS_DEFAULT_EPS = {"seed": 1e-5, "bn": 1e-6, "scaled": 1e-6}
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


# ----------------------------------------------------------------------------------------------- jar handling

def snapshot_jar(jar, workdir):
    """Copies the jar (once its size and mtime are stable and it opens as a zip) and returns (copy, sha256)."""
    for attempt in range(30):
        try:
            st1 = os.stat(jar)
            time.sleep(1.0)
            st2 = os.stat(jar)
            if (st1.st_size, st1.st_mtime) == (st2.st_size, st2.st_mtime) and st1.st_size > 0:
                dst = os.path.join(workdir, "normkit.jar")
                shutil.copyfile(jar, dst)
                with zipfile.ZipFile(dst) as z:
                    z.getinfo("META-INF/MANIFEST.MF")
                with open(dst, "rb") as f:
                    sha = hashlib.sha256(f.read()).hexdigest()
                return dst, sha
        except (OSError, zipfile.BadZipFile, KeyError):
            pass
        print(f"  jar {jar} missing or being rebuilt, retrying ({attempt + 1})", file=sys.stderr)
        time.sleep(5)
    sys.exit(f"cannot get a stable copy of {jar}")


def run_cli(jar, args, cwd, timeout=600):
    """Runs `java -jar JAR run ARGS` in cwd; retries a few times if the JVM could not even load the jar."""
    cmd = ["java", "-jar", jar, "run"] + args
    for attempt in range(5):
        t0 = time.time()
        p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
        dt = time.time() - t0
        if p.returncode == 1 and ("jarfile" in p.stderr or "NoClassDefFoundError" in p.stderr
                                  or "ClassNotFoundException" in p.stderr):
            time.sleep(5)
            continue
        return p.returncode, p.stdout, p.stderr, dt
    return p.returncode, p.stdout, p.stderr, dt


# --------------------------------------------------------------------------------------------- case generation

def divisors(c):
    return [d for d in range(1, c + 1) if c % d == 0]


def gen_shape(r, op, training):
    """A logical shape for op; size class tiny (edge cases), medium or large."""
    kind = r.choices(["tiny", "medium", "large"], [0.3, 0.55, 0.15])[0]
    nsp = r.choice([1, 2, 3]) if op == "instance-norm" else r.choice([0, 1, 2, 2, 3])
    if op == "weight-std":
        if kind == "large":
            o, i = r.choice([(256, 256), (512, 128), (128, 576), (64, 1000)])
            k = r.choice([1, 3, 5])
            return (o, i, k, k)[:2 + min(nsp, 2)] if nsp else (o, i * 9)
        o = r.choice([1, 2, 3, 8, 16, 17, 33, 64])
        i = r.choice([1, 2, 3, 4, 7, 16, 32])
        ks = [r.choice([1, 2, 3, 5, 7]) for _ in range(nsp)]
        return tuple([o, i] + ks)
    if kind == "tiny":
        n = r.choice([1, 1, 2, 3])
        c = r.choice([1, 1, 2, 3, 5, 7])
        sp = [r.choice([1, 1, 2, 3]) for _ in range(nsp)]
    elif kind == "medium":
        n = r.choice([1, 2, 3, 4, 5, 8])
        c = r.choice([1, 2, 3, 4, 6, 8, 12, 15, 16, 17, 24, 31, 32, 33, 48, 64])
        side = {0: 1, 1: 40, 2: 12, 3: 6}[nsp]
        sp = [r.randint(1, side) for _ in range(nsp)]
    else:
        if nsp == 0:
            n, c = r.choice([(256, 1024), (1000, 257), (4096, 128), (64, 4096)])
            sp = []
        else:
            n = r.choice([1, 2, 4, 8, 16])
            c = r.choice([3, 16, 17, 32, 64, 96, 128, 255, 256])
            target = r.randint(100_000, 1_500_000)
            per = max(1, target // (n * c))
            side = max(1, round(per ** (1.0 / nsp)))
            sp = [max(1, side + r.randint(-2, 2)) for _ in range(nsp)]
    shape = [n, c] + sp
    if op == "batch-norm" and training and n * math.prod(sp) == 1:
        shape[0] = 2
    if op == "instance-norm" and training and math.prod(sp) == 1:
        shape[-1] = r.choice([2, 3])
    return tuple(shape)


def make_case(seed, idx):
    """The description of case idx (deterministic in (seed, idx)); no arrays yet."""
    r = random.Random(f"normkit-check:{seed}:{idx}")
    op = OPS[idx % len(OPS)]
    backend, layout = COMBOS[(idx // len(OPS)) % len(COMBOS)]
    c = {"index": idx, "op": op, "backend": backend, "layout": layout,
         "pass_backend": backend != "native" or r.random() < 0.75,
         "pass_layout": layout != "nchw" or r.random() < 0.75,
         "file_dtype": "float64" if r.random() < 0.1 else "float32",
         "backward": r.random() < 0.5, "data_seed": r.randrange(2 ** 31)}
    training = True
    if op in ("batch-norm", "instance-norm"):
        c["mode"] = r.choice(["train", "train", "eval"]) if op == "batch-norm" else r.choice(["train", "eval"])
        training = c["mode"] == "train"
        c["pass_mode"] = not training or r.random() < 0.5
        c["running_in"] = (not training) or r.random() < 0.5
        c["running_out"] = r.random() < (0.8 if training else 0.3)
        c["momentum"] = r.choice([None, None, None, 0.0, 1.0, 0.01, 0.3, 0.9, round(r.random(), 4)])
    if op == "weight-std":
        c["variant"] = r.choice(["seed", "bn", "scaled"])
        c["pass_variant"] = c["variant"] != "seed" or r.random() < 0.7
        c["eps"] = r.choice([None, None, None, 1e-5, 1e-3, 1e-8])
    else:
        c["eps"] = r.choice([None, None, None, 1e-5, 1e-3, 1e-6, 1e-2, 0.1])
    shape = gen_shape(r, op, training)
    if op == "weight-std" and c["variant"] == "seed" and math.prod(shape[1:]) == 1:
        shape = (shape[0], 2) + shape[2:]
    c["shape"] = list(shape)
    if op == "group-norm":
        # PyTorch (and normkit) refuse N * C/G * spatial == 1; that case is in the bad-input battery
        accepted = [g for g in divisors(shape[1]) if shape[0] * shape[1] // g * math.prod(shape[2:]) != 1]
        c["groups"] = r.choice(accepted) if accepted else None
        if c["groups"] is None:  # a single value, (1, 1) or (1, 1, 1, ...): give it a second one
            shape = tuple(shape[:-1]) + (2,) if len(shape) > 2 else tuple(shape) + (2,)
            c["shape"] = list(shape)
            c["groups"] = 1
    if op == "layer-norm":
        k = r.randint(1, len(shape) - 1) if r.random() < 0.9 else len(shape)
        c["normalized_shape"] = list(shape[-k:])
    c["affine"] = op != "weight-std" and r.random() < (0.4 if op == "instance-norm" else 0.7)
    if c["backward"] and c["affine"]:
        c["param_grads"] = r.choices([["grad_weight", "grad_bias"], ["grad_weight"], ["grad_bias"], []],
                                     [0.6, 0.1, 0.1, 0.2])[0]
    else:
        c["param_grads"] = []
    c["mag"] = r.choices(["unit", "spread", "shifted", "offset"], [0.45, 0.3, 0.15, 0.1])[0]
    return c


def f32(a):
    """float32-rounded values, held in float64 (what the CLI sees, exactly)."""
    return np.asarray(a, dtype=np.float64).astype(np.float32).astype(np.float64)


def make_arrays(c):
    g = np.random.default_rng(c["data_seed"])
    shape = tuple(c["shape"])
    ch = shape[1]
    if c["mag"] == "unit":
        mu, sigma = g.uniform(-1, 1), g.uniform(0.5, 2)
    elif c["mag"] == "spread":
        mu, sigma = g.uniform(-3, 3), math.exp(g.uniform(math.log(0.1), math.log(10)))
    elif c["mag"] == "shifted":
        mu, sigma = g.uniform(-30, 30), g.uniform(0.5, 3)
    else:   # a large common offset: E[x^2] - E[x]^2 in float32 would lose every digit
        mu, sigma = g.choice([-1, 1]) * g.uniform(100, 1000), g.uniform(0.5, 3)
    bshape = (1, ch) + (1,) * (len(shape) - 2)
    mu_c = mu + sigma * g.uniform(-1, 1, size=bshape)
    sigma_c = sigma * np.exp(g.uniform(math.log(0.5), math.log(2), size=bshape))
    if c["op"] == "weight-std":
        mu_c, sigma_c = mu_c * 0.01, sigma_c * 0.05   # weight-like magnitudes
    a = {"x": f32(mu_c + sigma_c * g.standard_normal(shape))}
    if c["affine"]:
        pshape = tuple(c["normalized_shape"]) if c["op"] == "layer-norm" else (ch,)
        a["weight"] = f32(1 + 0.5 * g.standard_normal(pshape))
        a["bias"] = f32(0.5 * g.standard_normal(pshape))
    if c.get("running_in"):
        a["running_mean"] = f32(mu_c.reshape(ch) + 0.3 * sigma * g.standard_normal(ch))
        a["running_var"] = f32(sigma_c.reshape(ch) ** 2 * g.uniform(0.5, 2, size=ch))
    if c["backward"]:
        a["grad_output"] = f32(g.standard_normal(shape))
    return a


# ------------------------------------------------------------------------------------------------- reference

def reference(c, a, dtype=torch.float64):
    """The expected outputs by name, computed by PyTorch in dtype (autograd for the gradients)."""
    t = {k: torch.tensor(v, dtype=dtype) for k, v in a.items()}
    x = t["x"].requires_grad_(c["backward"])
    w = b = None
    if c["affine"]:
        w = t["weight"].requires_grad_(c["backward"])
        b = t["bias"].requires_grad_(c["backward"])
    out = {}
    op, eps = c["op"], c["eps"]
    if op == "weight-std":
        eps = WS_DEFAULT_EPS[c["variant"]] if eps is None else eps
    elif eps is None:
        eps = 1e-5
    if op in ("batch-norm", "instance-norm"):
        training = c["mode"] == "train"
        momentum = 0.1 if c["momentum"] is None else c["momentum"]
        if c["running_in"]:
            rm, rv = t["running_mean"].clone(), t["running_var"].clone()
        elif c["running_out"]:
            rm = torch.zeros(c["shape"][1], dtype=dtype)
            rv = torch.ones(c["shape"][1], dtype=dtype)
        else:
            rm = rv = None
        if op == "batch-norm":
            y = F.batch_norm(x, rm, rv, w, b, training, momentum, eps)
        else:
            y = F.instance_norm(x, rm, rv, w, b, use_input_stats=training, momentum=momentum, eps=eps)
        if c["running_out"]:
            out["running_mean"], out["running_var"] = rm.detach(), rv.detach()
    elif op == "layer-norm":
        y = F.layer_norm(x, c["normalized_shape"], w, b, eps)
    elif op == "group-norm":
        y = F.group_norm(x, c["groups"], w, b, eps)
    else:
        o = x.shape[0]
        wf = x.reshape(o, -1)
        k = wf.shape[1]
        mean = wf.mean(dim=1, keepdim=True)
        if c["variant"] == "seed":
            yf = (wf - mean) / (wf.std(dim=1, unbiased=True, keepdim=True) + eps)
        else:
            yf = (wf - mean) / torch.sqrt(wf.var(dim=1, unbiased=False, keepdim=True) + eps)
            if c["variant"] == "scaled":
                yf = yf * k ** -0.5   # gain = 1, gamma = 1: the CLI passes neither
        y = yf.reshape(x.shape)
    out["y"] = y.detach()
    if c["backward"]:
        y.backward(t["grad_output"])
        out["grad_input"] = x.grad
        if "grad_weight" in c["param_grads"]:
            out["grad_weight"] = w.grad
        if "grad_bias" in c["param_grads"]:
            out["grad_bias"] = b.grad
    return {k: (v if isinstance(v, str) else v.detach().to(torch.float64).numpy()) for k, v in out.items()}


def scaled_error(got, exp):
    """(scaled error, max abs error, scale, unfloored relative error, problem or None)."""
    if got.shape != exp.shape:
        return math.inf, math.inf, math.nan, math.inf, f"shape {got.shape} != expected {exp.shape}"
    if got.dtype != np.float32:
        return math.inf, math.inf, math.nan, math.inf, f"dtype {got.dtype} (expected float32)"
    g = got.astype(np.float64)
    if exp.size == 0:
        return 0.0, 0.0, 1.0, 0.0, None
    if not np.array_equal(np.isfinite(g), np.isfinite(exp)):
        return math.inf, math.inf, math.nan, math.inf, "non-finite values differ"
    fin = np.isfinite(exp)
    diff = np.abs(g[fin] - exp[fin])
    mx = float(np.max(np.abs(exp[fin]))) if fin.any() else 0.0
    mad = float(diff.max()) if diff.size else 0.0
    scale = max(1.0, mx)
    return mad / scale, mad, scale, (mad / mx if mx > 0 else (0.0 if mad == 0 else math.inf)), None


# -------------------------------------------------------------------------------------------------- run cases

def cli_args(c, d):
    """The argument list after `run`, with files in directory d, and the output files by name."""
    p = lambda name: os.path.join(d, name + ".npy")
    args = [c["op"], "--input", p("x"), "--output", p("out_y")]
    outs = {"y": p("out_y")}
    if c["pass_backend"]:
        args += ["--backend", c["backend"]]
    if c["pass_layout"]:
        args += ["--layout", c["layout"]]
    if c["eps"] is not None:
        args += ["--eps", repr(c["eps"])]
    if c["op"] == "group-norm":
        args += ["--groups", str(c["groups"])]
    if c["op"] == "layer-norm":
        args += ["--normalized-shape", ",".join(map(str, c["normalized_shape"]))]
    if c["op"] == "weight-std" and c["pass_variant"]:
        args += ["--variant", c["variant"]]
    if c["op"] in ("batch-norm", "instance-norm"):
        if c["pass_mode"]:
            args += ["--mode", c["mode"]]
        if c["momentum"] is not None:
            args += ["--momentum", repr(c["momentum"])]
        if c["running_in"]:
            args += ["--running-mean", p("running_mean"), "--running-var", p("running_var")]
        if c["running_out"]:
            args += ["--out-running-mean", p("out_running_mean"), "--out-running-var", p("out_running_var")]
            outs["running_mean"], outs["running_var"] = p("out_running_mean"), p("out_running_var")
    if c["affine"]:
        args += ["--weight", p("weight"), "--bias", p("bias")]
    if c["backward"]:
        args += ["--grad-output", p("grad_output"), "--grad-input", p("out_grad_input")]
        outs["grad_input"] = p("out_grad_input")
        for name in c["param_grads"]:
            args += [OUT_OPTS[name], p("out_" + name)]
            outs[name] = p("out_" + name)
    return args, outs


def describe(c):
    s = f"{c['op']:<13} {c['backend']:<6} {c['layout']} {tuple(c['shape'])}"
    if c["op"] in ("batch-norm", "instance-norm"):
        s += f" {c['mode']}" + (" rs-in" if c["running_in"] else "") + (" rs-out" if c["running_out"] else "")
        if c["momentum"] is not None:
            s += f" m={c['momentum']}"
    if c["op"] == "group-norm":
        s += f" G={c['groups']}"
    if c["op"] == "layer-norm":
        s += f" D={tuple(c['normalized_shape'])}"
    if c["op"] == "weight-std":
        s += f" {c['variant']}"
    if c["eps"] is not None:
        s += f" eps={c['eps']:g}"
    if c["affine"]:
        s += " affine"
    if c["backward"]:
        s += " bw"
    if c["file_dtype"] == "float64":
        s += " f64-files"
    return s


SHORT = {"y": "y", "running_mean": "rm", "running_var": "rv", "grad_input": "dx", "grad_weight": "dw",
         "grad_bias": "db"}


def run_case(c, jar, jar_shown, workdir, keep):
    d = os.path.join(workdir, f"case-{c['index']:04d}")
    os.makedirs(d, exist_ok=True)
    a = make_arrays(c)
    for k, v in a.items():
        np.save(os.path.join(d, k + ".npy"), v.astype(np.float32 if c["file_dtype"] == "float32" else np.float64))
    args, outs = cli_args(c, d)
    cmd_shown = shlex.join(["java", "-jar", jar_shown, "run"] + args)
    rc, _, err, dt = run_cli(jar, args, d)
    rec = {"index": c["index"], "case": c, "command": cmd_shown, "seconds": round(dt, 3), "exit": rc,
           "stderr": err.strip(), "outputs": {}, "pass": True}
    hs = [f for f in os.listdir(d) if f.startswith("hs_err_pid")]
    if rc != 0 or hs:
        rec["pass"] = False
        rec["problem"] = f"exit {rc}: {err.strip()[:500]}" + (f" ({hs[0]})" if hs else "")
    else:
        try:
            exp = reference(c, a)
        except Exception as ex:  # noqa: BLE001 - a reference that cannot be computed is reported, not fatal
            exp = {}
            rec["pass"] = False
            rec["problem"] = f"PyTorch reference failed: {type(ex).__name__}: {ex}"
        try:   # how far PyTorch's own float32 is from float64 on this input: the float32 noise floor
            e32 = reference(c, a, torch.float32) if exp else {}
        except Exception as ex:  # noqa: BLE001 - informational only
            e32 = {}
        for name in exp:
            path = outs[name]
            if not os.path.exists(path):
                o = {"scaled_error": math.inf, "problem": "output file not written"}
            else:
                se, mad, scale, rel, problem = scaled_error(np.load(path), exp[name])
                o = {"scaled_error": se, "max_abs_error": mad, "scale": scale, "rel_error": rel}
                if problem:
                    o["problem"] = problem
            o["pass"] = o["scaled_error"] <= TOL and "problem" not in o
            if name in e32:
                o["torch_f32_scaled_error"] = scaled_error(e32[name].astype(np.float32), exp[name])[0]
            if not o["pass"]:
                rec["pass"] = False
            rec["outputs"][name] = o
    if rec["pass"] and not keep:
        shutil.rmtree(d, ignore_errors=True)
    else:
        rec["kept_dir"] = d
    return rec


def verdict(o):
    """A failing output is a float32 limitation when PyTorch float32 is at least half as far off on the same input."""
    t32 = o.get("torch_f32_scaled_error", math.nan)
    if "problem" not in o and t32 == t32 and t32 >= 0.5 * o["scaled_error"]:
        o["verdict"] = "float32 limitation (PyTorch float32 is as far off)"
    else:
        o["verdict"] = "SUSPECTED BUG (PyTorch float32 is much closer)"
    return o["verdict"]


def fmt(e):
    return "inf" if e == math.inf else f"{e:.2e}"


def run_cases(opts, jar, jar_shown, workdir):
    indices = [int(i) for i in opts.only.split(",")] if opts.only else range(opts.cases)
    records = []
    t0 = time.time()
    for n, idx in enumerate(indices):
        c = make_case(opts.seed, idx)
        rec = run_case(c, jar, jar_shown, workdir, opts.keep is not None)
        records.append(rec)
        errs = " ".join(f"{SHORT[k]}={fmt(o['scaled_error'])}" for k, o in rec["outputs"].items())
        status = "ok" if rec["pass"] else "FAIL"
        print(f"[{idx:4d}] {describe(c):<78} {errs}  {status} ({rec['seconds']:.1f}s)"
              + ("" if rec["pass"] or rec["outputs"] else f"  {rec.get('problem')}"), flush=True)
    print(f"\n{len(records)} cases in {time.time() - t0:.0f} s; scaled error = max|normkit - torch64| / "
          f"max(1, max|torch64|), pass if <= {TOL:g}\n")

    table = {}
    for rec in records:
        for name, o in rec["outputs"].items():
            key = (rec["case"]["op"], name)
            t = table.setdefault(key, {"checks": 0, "worst": 0.0, "worst_case": None, "failed": 0,
                                       "worst_rel": 0.0, "t32_at_worst": math.nan, "t32_worst": 0.0})
            t["checks"] += 1
            t["failed"] += 0 if o["pass"] else 1
            t32 = o.get("torch_f32_scaled_error", math.nan)
            if o["scaled_error"] >= t["worst"]:
                t["worst"], t["worst_case"], t["t32_at_worst"] = o["scaled_error"], rec["index"], t32
            if t32 == t32:
                t["t32_worst"] = max(t["t32_worst"], t32)
            if o.get("rel_error", math.inf) != math.inf:
                t["worst_rel"] = max(t["worst_rel"], o["rel_error"])
    print("normkit = worst scaled error of normkit vs torch float64 (and its case); torch-f32 = the scaled error of"
          " PyTorch float32\nvs float64 on that same case, and the worst over all cases of the row (the float32"
          " noise floor);\nunfloored rel = worst max|diff| / max|torch64| (informational: large only where the tensor is ~0)\n")
    print(f"{'op':<14} {'output':<13} {'checks':>6} {'failed':>6} {'normkit':>10} {'(case)':>7}"
          f" {'torch-f32':>10} {'torch-f32 worst':>16} {'unfloored rel':>14}")
    for op in OPS:
        for name in OUT_OPTS:
            t = table.get((op, name))
            if t:
                print(f"{op:<14} {name:<13} {t['checks']:>6} {t['failed']:>6} {fmt(t['worst']):>10}"
                      f" {t['worst_case']:>7} {fmt(t['t32_at_worst']):>10} {fmt(t['t32_worst']):>16}"
                      f" {fmt(t['worst_rel']):>14}")
    by = {}
    for rec in records:
        c = rec["case"]
        w = max([o["scaled_error"] for o in rec["outputs"].values()] or [math.inf])
        k = (c["backend"], c["layout"])
        by[k] = (by.get(k, (0, 0.0))[0] + 1, max(by.get(k, (0, 0.0))[1], w))
    print("\nby backend x layout: " + ", ".join(f"{b}/{l}: {n} cases, worst {fmt(w)}"
                                                for (b, l), (n, w) in sorted(by.items())))
    failures = [r for r in records if not r["pass"]]
    print(f"\nfailures: {len(failures)} of {len(records)} cases")
    for r in failures:
        print(f"  case {r['index']} ({describe(r['case'])}), inputs kept in {r.get('kept_dir')}:")
        if r.get("problem"):
            print(f"    {r['problem']}")
        for name, o in r["outputs"].items():
            if not o["pass"]:
                print(f"    {name}: scaled error {fmt(o['scaled_error'])} (max abs {o.get('max_abs_error', '?')}, "
                      f"scale {o.get('scale', '?')}){' ' + o['problem'] if 'problem' in o else ''}; "
                      f"PyTorch float32 on the same input: {fmt(o.get('torch_f32_scaled_error', math.nan))}"
                      f" -> {verdict(o)}")
        print(f"    reproduce: {r['command']}")
        print(f"    or: /usr/bin/python3 tools/check/cli_vs_pytorch.py --seed {opts.seed} --only {r['index']}"
              f" --keep DIR")
    if failures:
        v = [o["verdict"] for r in failures for o in r["outputs"].values() if "verdict" in o]
        lim = sum(x.startswith("float32") for x in v)
        print(f"  failing outputs: {len(v)}: {lim} float32 limitations, {len(v) - lim} suspected bugs"
              + ("" if all(r["outputs"] for r in failures) else "; plus runs that failed outright (see above)"))
    return records, not failures


# ----------------------------------------------------------------------------------------- bad-input battery

def npy_bytes(descr, shape, data=b"", fortran=False, header=None, magic=b"\x93NUMPY", version=b"\x01\x00"):
    """A hand-made version-1.0 .npy file (for malformed variants)."""
    if header is None:
        header = "{'descr': %r, 'fortran_order': %s, 'shape': %s, }" % (descr, fortran, shape_text(shape))
    h = header.encode("latin1")
    pad = 64 - (len(magic) + 2 + 2 + len(h) + 1) % 64
    h = h + b" " * (pad % 64) + b"\n"
    return magic + version + len(h).to_bytes(2, "little") + h + data


def shape_text(shape):
    return "(" + "".join(f"{d}, " for d in shape).rstrip(" ") + ")" if len(shape) != 1 else f"({shape[0]},)"


def bad_cases():
    """(name, files {name: bytes or ndarray}, args after `run` with {f:NAME} input and {o:NAME} output slots)."""
    g = np.random.default_rng(1)
    x = g.standard_normal((4, 6, 5)).astype(np.float32)
    good = x.tobytes()
    valid = npy_bytes("<f4", x.shape, good)
    C = 6
    vec = lambda n, v=1.0: np.full(n, v, np.float32)
    ln = ["layer-norm", "--input", "{f:x}", "--output", "{o:y}", "--normalized-shape", "6,5"]
    bn = lambda *extra: ["batch-norm", "--input", "{f:x}", "--output", "{o:y}"] + list(extra)
    files = {"x": x, "w": vec(C), "b": vec(C, 0.0), "w7": vec(C + 1), "rm": vec(C, 0.0), "rv": vec(C),
             "rm5": vec(C - 1, 0.0), "dy": x, "dy_bad": g.standard_normal((4, 6, 4)).astype(np.float32),
             "x1d": vec(5), "x6d": np.ones((1, 2, 1, 1, 1, 2), np.float32), "x_n1": np.ones((1, 3), np.float32),
             "x_sp1": np.ones((2, 3, 1), np.float32), "w_k1": np.ones((4, 1, 1, 1), np.float32),
             "w_int": vec(C).astype(np.int32)}
    cases = [
        ("unknown op", {}, ["frobnicate-norm", "--input", "{f:x}", "--output", "{o:y}"]),
        ("missing input file", {}, ["batch-norm", "--input", "{d}/does-not-exist.npy", "--output", "{o:y}"]),
        ("empty file (0 bytes)", {"e": b""}, ["batch-norm", "--input", "{f:e}", "--output", "{o:y}"]),
        ("truncated header", {"t": valid[:30]}, ["batch-norm", "--input", "{f:t}", "--output", "{o:y}"]),
        ("truncated data", {"t": valid[:-6]}, ["batch-norm", "--input", "{f:t}", "--output", "{o:y}"]),
        ("trailing data (shape smaller than data)", {"t": valid + b"\0\0\0\0"},
         ["batch-norm", "--input", "{f:t}", "--output", "{o:y}"]),
        ("shape/size mismatch: header (4, 6, 6) on (4, 6, 5) data", {"t": npy_bytes("<f4", (4, 6, 6), good)},
         ["batch-norm", "--input", "{f:t}", "--output", "{o:y}"]),
        ("wrong magic", {"t": b"\x93NUMPZ" + valid[6:]}, ["batch-norm", "--input", "{f:t}", "--output", "{o:y}"]),
        ("not a dict header", {"t": npy_bytes("<f4", (), good, header="hello world")},
         ["batch-norm", "--input", "{f:t}", "--output", "{o:y}"]),
        ("big-endian >f4", {"t": x.astype(">f4")}, ["batch-norm", "--input", "{f:t}", "--output", "{o:y}"]),
        ("Fortran order", {"t": np.asfortranarray(x)}, ["batch-norm", "--input", "{f:t}", "--output", "{o:y}"]),
        ("int32 dtype", {"t": x.astype(np.int32)}, ["batch-norm", "--input", "{f:t}", "--output", "{o:y}"]),
        ("complex64 dtype", {"t": x.astype(np.complex64)}, ["batch-norm", "--input", "{f:t}", "--output", "{o:y}"]),
        ("bool dtype", {"t": x > 0}, ["batch-norm", "--input", "{f:t}", "--output", "{o:y}"]),
        ("float16 dtype", {"t": x.astype(np.float16)}, ["batch-norm", "--input", "{f:t}", "--output", "{o:y}"]),
        ("0-d array", {"t": np.array(1.5, np.float32)}, ["batch-norm", "--input", "{f:t}", "--output", "{o:y}"]),
        ("negative dim in header", {"t": npy_bytes("<f4", (-4, 6, 5), good)},
         ["batch-norm", "--input", "{f:t}", "--output", "{o:y}"]),
        ("element count overflowing a long", {"t": npy_bytes("<f4", (2 ** 40, 2 ** 40, 2 ** 40), good)},
         ["batch-norm", "--input", "{f:t}", "--output", "{o:y}"]),
        ("byte size overflowing a long", {"t": npy_bytes("<f4", (2 ** 31, 2 ** 31), good)},
         ["batch-norm", "--input", "{f:t}", "--output", "{o:y}"]),
        ("empty input with huge other dims (100000, 100000, 0)", {"t": npy_bytes("<f4", (100000, 100000, 0))},
         ["batch-norm", "--input", "{f:t}", "--output", "{o:y}"]),
        ("unsupported .npy version 9.0", {"t": npy_bytes("<f4", x.shape, good, version=b"\x09\x00")},
         ["batch-norm", "--input", "{f:t}", "--output", "{o:y}"]),
        ("header without 'shape'", {"t": npy_bytes("<f4", x.shape, good,
                                                   header="{'descr': '<f4', 'fortran_order': False, }")},
         ["batch-norm", "--input", "{f:t}", "--output", "{o:y}"]),
        ("rank 1 input", {}, ["batch-norm", "--input", "{f:x1d}", "--output", "{o:y}"]),
        ("rank 6 input (4 spatial dims)", {}, ["group-norm", "--input", "{f:x6d}", "--output", "{o:y}",
                                               "--groups", "1"]),
        ("C % groups != 0", {}, ["group-norm", "--input", "{f:x}", "--output", "{o:y}", "--groups", "4"]),
        ("groups 0", {}, ["group-norm", "--input", "{f:x}", "--output", "{o:y}", "--groups", "0"]),
        ("groups not a number", {}, ["group-norm", "--input", "{f:x}", "--output", "{o:y}", "--groups", "two"]),
        ("groups > C", {}, ["group-norm", "--input", "{f:x}", "--output", "{o:y}", "--groups", "12"]),
        ("group-norm without --groups", {}, ["group-norm", "--input", "{f:x}", "--output", "{o:y}"]),
        ("normalized shape not trailing", {}, ["layer-norm", "--input", "{f:x}", "--output", "{o:y}",
                                               "--normalized-shape", "4,6"]),
        ("normalized shape longer than the input", {}, ["layer-norm", "--input", "{f:x}", "--output", "{o:y}",
                                                        "--normalized-shape", "1,4,6,5"]),
        ("normalized shape not numbers", {}, ["layer-norm", "--input", "{f:x}", "--output", "{o:y}",
                                              "--normalized-shape", "six,five"]),
        ("layer-norm without --normalized-shape", {}, ["layer-norm", "--input", "{f:x}", "--output", "{o:y}"]),
        ("layer-norm weight not the normalized shape", {}, ln + ["--weight", "{f:w}", "--bias", "{f:b}"]),
        ("eps 0", {}, bn("--eps", "0")),
        ("eps negative", {}, bn("--eps", "-1e-5")),
        ("eps NaN", {}, bn("--eps", "NaN")),
        ("eps infinite", {}, bn("--eps", "Infinity")),
        ("eps not a number", {}, bn("--eps", "small")),
        ("momentum 1.5", {}, bn("--momentum", "1.5")),
        ("momentum -0.1", {}, bn("--momentum", "-0.1")),
        ("momentum NaN", {}, bn("--momentum", "NaN")),
        ("one value per channel in BN training (1, 3)", {}, ["batch-norm", "--input", "{f:x_n1}",
                                                              "--output", "{o:y}"]),
        ("one spatial value in IN training (2, 3, 1)", {}, ["instance-norm", "--input", "{f:x_sp1}",
                                                            "--output", "{o:y}"]),
        ("group norm of a single value (1, 3) with 3 groups", {}, ["group-norm", "--input", "{f:x_n1}",
                                                                   "--output", "{o:y}", "--groups", "3"]),
        ("weight-std seed with K == 1", {}, ["weight-std", "--input", "{f:w_k1}", "--output", "{o:y}",
                                             "--variant", "seed"]),
        ("weight-std unknown variant", {}, ["weight-std", "--input", "{f:x}", "--output", "{o:y}",
                                            "--variant", "fancy"]),
        ("weight of wrong shape (C+1)", {}, bn("--weight", "{f:w7}", "--bias", "{f:b}")),
        ("weight int32 dtype", {}, bn("--weight", "{f:w_int}", "--bias", "{f:b}")),
        ("weight without bias", {}, bn("--weight", "{f:w}")),
        ("running stats of wrong shape", {}, bn("--running-mean", "{f:rm5}", "--running-var", "{f:rv}",
                                                "--out-running-mean", "{o:rm}", "--out-running-var", "{o:rv}")),
        ("instance-norm eval, running stats of wrong shape", {},
         ["instance-norm", "--input", "{f:x}", "--output", "{o:y}", "--mode", "eval", "--running-mean", "{f:rm5}",
          "--running-var", "{f:rv}"]),
        ("eval without running stats", {}, bn("--mode", "eval")),
        ("unknown mode", {}, bn("--mode", "test")),
        ("unknown backend", {}, bn("--backend", "cuda")),
        ("unknown layout", {}, bn("--layout", "nchw16c")),
        ("unknown option", {}, bn("--frobnicate", "1")),
        ("option of another op (--groups to batch-norm)", {}, bn("--groups", "2")),
        ("missing value (--eps last)", {}, bn("--eps")),
        ("missing --output", {}, ["batch-norm", "--input", "{f:x}"]),
        ("missing --input", {}, ["batch-norm", "--output", "{o:y}"]),
        ("grad-output of wrong shape", {}, bn("--grad-output", "{f:dy_bad}", "--grad-input", "{o:dx}")),
        ("grad-output without grad-input", {}, bn("--grad-output", "{f:dy}")),
        ("grad-weight without weight", {}, bn("--grad-output", "{f:dy}", "--grad-input", "{o:dx}",
                                              "--grad-weight", "{o:dw}", "--grad-bias", "{o:db}")),
        ("output and grad-input the same file", {}, bn("--grad-output", "{f:dy}", "--grad-input", "{o:y}")),
        ("output directory does not exist", {}, ["batch-norm", "--input", "{f:x}", "--output",
                                                 "{o:nodir}/y.npy"]),
        ("input is a directory", {}, ["batch-norm", "--input", "{d}", "--output", "{o:y}"]),
    ]
    return files, cases


def run_bad(jar, jar_shown, workdir):
    files, cases = bad_cases()
    ind = os.path.join(workdir, "bad-inputs")
    os.makedirs(ind, exist_ok=True)

    def write(name, v):
        path = os.path.join(ind, name + ".npy")
        if isinstance(v, bytes):
            with open(path, "wb") as f:
                f.write(v)
        else:
            np.save(path, v)
        return path

    common = {k: write(k, v) for k, v in files.items()}
    results = []
    print(f"bad-input battery: {len(cases)} invocations; each must exit 2 with one 'error: ' line on stderr and"
          " write nothing\n")
    for i, (name, extra, template) in enumerate(cases):
        paths = dict(common)
        paths.update({k: write(f"case{i}-{k}", v) for k, v in extra.items()})
        outdir = os.path.join(workdir, f"bad-out-{i:02d}")   # fresh, empty; also the JVM's working directory
        os.makedirs(outdir)
        outs = []
        args = []
        for a in template:
            if a.startswith("{f:"):
                a = paths[a[3:-1]]
            elif a.startswith("{o:"):
                rest = a[3:]
                key, tail = rest.split("}", 1)
                a = os.path.join(outdir, key + ".npy") if not tail else os.path.join(outdir, key) + tail
                outs.append(a)
            elif a.startswith("{d}"):
                a = ind + a[3:]
            args.append(a)
        rc, out, err, _ = run_cli(jar, args, outdir)
        lines = err.splitlines()
        problems = []
        if rc != 2:
            problems.append(f"exit {rc} (expected 2)")
        if len(lines) != 1 or not lines[0].startswith("error: "):
            problems.append(f"stderr has {len(lines)} lines" + ("" if lines and lines[0].startswith("error: ")
                                                                 else ", not starting with 'error: '"))
        written = [o for o in outs if os.path.exists(o)]
        if written:
            problems.append("output written: " + ", ".join(written))
        left = sorted(os.listdir(outdir))
        if left:
            problems.append("files left in the output/working directory: " + ", ".join(left))
        hs = [f for f in os.listdir(ind) if f.startswith("hs_err_pid")]
        if hs:
            problems.append("hs_err file: " + ", ".join(hs))
        msg = lines[0] if lines else "(no stderr)"
        ok = not problems
        results.append({"name": name, "command": shlex.join(["java", "-jar", jar_shown, "run"] + args),
                        "exit": rc, "stderr": err, "stdout": out, "pass": ok, "problems": problems})
        print(f"  {'ok  ' if ok else 'FAIL'} {name:<52} exit {rc}  {msg[:160]}", flush=True)
        for p in problems:
            print(f"         -> {p}")
        shutil.rmtree(outdir, ignore_errors=True)
    failed = [r for r in results if not r["pass"]]
    print(f"\nbad-input battery: {len(results) - len(failed)} passed, {len(failed)} failed of {len(results)}")
    for r in failed:
        print(f"  {r['name']}: {'; '.join(r['problems'])}\n    stderr: {r['stderr'].strip()[:400]!r}"
              f"\n    reproduce: {r['command']}")
    return results, not failed


# ------------------------------------------------------------------------------------------------------- main

def finite(v):
    """The report with infinities and NaNs as strings, so that the JSON is strict."""
    if isinstance(v, dict):
        return {k: finite(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [finite(x) for x in v]
    if isinstance(v, float) and not math.isfinite(v):
        return repr(v)
    return v


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=None, help="number of random cases (default 200)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--jar", default="target/normkit.jar")
    ap.add_argument("--json", help="write every record to this file")
    ap.add_argument("--bad", action="store_true", help="run the bad-input battery (alone unless --cases)")
    ap.add_argument("--only", help="comma-separated case indices of --seed to run (e.g. to reproduce one)")
    ap.add_argument("--keep", help="keep every case's files under this directory (default: failures only, in tmp)")
    opts = ap.parse_args()
    jar = opts.jar if os.path.exists(opts.jar) or os.path.isabs(opts.jar) else os.path.join(REPO, opts.jar)
    run_numeric = opts.cases is not None or opts.only or not opts.bad
    if opts.cases is None:
        opts.cases = 200
    workdir = opts.keep or tempfile.mkdtemp(prefix="normkit-check-")
    os.makedirs(workdir, exist_ok=True)
    snap, sha = snapshot_jar(jar, tempfile.mkdtemp(prefix="normkit-jar-"))
    print(f"jar {jar} (sha256 {sha[:16]}, snapshot {snap}); torch {torch.__version__}, numpy {np.__version__};"
          f" seed {opts.seed}; work dir {workdir}\n")
    ok = True
    report = {"jar": jar, "jar_sha256": sha, "seed": opts.seed, "tolerance": TOL,
              "scaled_error": "max|normkit - torch64| / max(1, max|torch64|)"}
    if run_numeric:
        report["cases"], ok_cases = run_cases(opts, snap, jar, workdir)
        ok &= ok_cases
    if opts.bad:
        if run_numeric:
            print()
        report["bad_inputs"], ok_bad = run_bad(snap, jar, workdir)
        ok &= ok_bad
    if opts.json:
        with open(opts.json, "w") as f:
            json.dump(finite(report), f, indent=1)
        print(f"\nrecords written to {opts.json}")
    shutil.rmtree(os.path.dirname(snap), ignore_errors=True)
    print("\nRESULT: " + ("all checks passed" if ok else "FAILURES (see above)"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
