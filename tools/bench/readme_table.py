#!/usr/bin/python3
"""Turns the records of `compare_pytorch.py --json F` (normkit's bench records plus PyTorch's median per case) into
the Markdown tables of the README's performance section, and checks the targets of the performance issue:

    /usr/bin/python3 tools/bench/readme_table.py compare.json

Per case and thread count: ratio = normkit GB/s / streaming-probe GB/s (higher is better, 1.0 = as fast as a plain
y = a * x + b over the same bytes) and normkit's median time / PyTorch's (lower is better, < 1 = normkit faster).
Targets: ratio >= 0.6 on the two large shapes, normkit <= 0.8 x PyTorch on every case, and 2 threads not slower
than 1 on the DRAM-sized shape (a 5% margin is counted as equal: the medians of a shared machine move that much).
"""
import json
import sys

LARGE = ([32, 64, 14, 14], [8, 256, 56, 56])
DRAM = [8, 256, 56, 56]


def shape_text(shape):
    return "x".join(str(d) for d in shape)


def params_text(params):
    """The settings that tell cases of one op apart: groups, normalized shape, WS variant."""
    shown = [f"{k.replace('_', ' ')} {shape_text(v) if isinstance(v, list) else v}"
             for k, v in sorted(params.items()) if k in ("groups", "normalized_shape", "variant")]
    return f" ({', '.join(shown)})" if shown else ""


def main(path):
    records = json.load(open(path))
    threads = sorted({r["threads"] for r in records})
    cases = {}
    for r in records:
        key = (r["op"], r["pass"], r["layout"], tuple(r["shape"]), json.dumps(r["params"], sort_keys=True))
        cases.setdefault(key, {})[r["threads"]] = r
    header = "| op | pass | layout | shape | " + " | ".join(f"ratio {t}T" for t in threads) + " | " + \
        " | ".join(f"normkit/PyTorch {t}T" for t in threads) + " |"
    print(header)
    print("|" + "---|" * (4 + 2 * len(threads)))
    misses = {"ratio": [], "pytorch": [], "scaling": []}
    for key, by_t in cases.items():
        op, pas, layout, shape, params = key
        cells = [op + params_text(json.loads(params)), pas, layout, shape_text(shape)]
        for t in threads:
            r = by_t.get(t)
            cells.append("" if r is None else f"{r['ratio']:.2f}")
        for t in threads:
            r = by_t.get(t)
            v = None if r is None else r.get("normkit_over_pytorch")
            cells.append("" if v is None else f"{v:.2f}")
        print("| " + " | ".join(cells) + " |")
        for t, r in by_t.items():
            name = f"{op} {pas} {layout} {shape_text(shape)} {t}T"
            if list(shape) in LARGE and r["ratio"] < 0.6:
                misses["ratio"].append(f"{name}: {r['ratio']:.2f}")
            v = r.get("normkit_over_pytorch")
            if v is not None and v > 0.8:
                misses["pytorch"].append(f"{name}: {v:.2f}")
        if list(shape) == DRAM and 1 in by_t and 2 in by_t:
            one, two = by_t[1]["median_ns"], by_t[2]["median_ns"]
            if two > 1.05 * one:
                misses["scaling"].append(f"{op} {pas} {layout}: 1T {one / 1e3:.0f} us, 2T {two / 1e3:.0f} us")
    print()
    print(f"cases: {len(cases)} x threads {threads}")
    for what, label in (("ratio", "large shapes with ratio < 0.6"),
                        ("pytorch", "cases slower than 0.8 x PyTorch"),
                        ("scaling", "DRAM-shape cases where 2 threads are > 5% slower than 1")):
        print(f"{label}: {len(misses[what])}")
        for m in misses[what]:
            print(f"  {m}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: readme_table.py compare.json")
    main(sys.argv[1])
