#!/usr/bin/env python3
"""Puts the JSON of `normkit train --sweep --json A` and of `tools/train/train_pytorch.py --sweep --json B` side by
side and checks the issue's targets: normkit within 1.5 points of PyTorch at every setting, GN+WS at least 2 points
above BN at batch 2 (in each run), and normkit's epoch at batch 32 no slower than PyTorch's.

usage: python3 tools/train/compare.py docs/sweep-normkit.json docs/sweep-pytorch.json
"""
import json
import sys

LABELS = {'bn': 'BN', 'gn': 'GN', 'gnws': 'GN+WS', 'in': 'IN', 'ln': 'LN'}


def index(path):
    with open(path) as f:
        return {(r['norm'], r['batch_size']): r for r in json.load(f)}


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    nk, pt = index(sys.argv[1]), index(sys.argv[2])
    keys = [k for k in nk if k in pt]
    batches = sorted({b for _, b in keys}, reverse=True)
    norms = []
    for n, _ in keys:
        if n not in norms:
            norms.append(n)
    print('test accuracy, normkit / PyTorch (difference)\n')
    print('| norm |' + ''.join(' batch %d |' % b for b in batches))
    print('|---|' + '---|' * len(batches))
    ok = True
    for n in norms:
        cells = []
        for b in batches:
            if (n, b) not in nk or (n, b) not in pt:
                cells.append(' - |')
                continue
            a, p = 100 * nk[(n, b)]['test_accuracy'], 100 * pt[(n, b)]['test_accuracy']
            ok &= abs(a - p) <= 1.5
            cells.append(' %.1f%% / %.1f%% (%+.1f) |' % (a, p, a - p))
        print('| %s |' % LABELS[n] + ''.join(cells))
    print('\nepoch seconds at batch 32, normkit / PyTorch (threads %s / %s):' % (
        sorted({r['threads'] for r in nk.values()}), sorted({r['threads'] for r in pt.values()})))
    for n in norms:
        if (n, 32) in nk and (n, 32) in pt:
            s, t = nk[(n, 32)]['seconds'], pt[(n, 32)]['seconds']
            ok &= s <= t
            print('  %-5s %6.1f s / %6.1f s  (%.2fx)' % (LABELS[n], s, t, t / s))
    for name, runs in (('normkit', nk), ('PyTorch', pt)):
        if ('gnws', 2) in runs and ('bn', 2) in runs:
            gap = 100 * (runs[('gnws', 2)]['test_accuracy'] - runs[('bn', 2)]['test_accuracy'])
            print('GN+WS - BN at batch 2, %s: %+.1f points (target >= +2)' % (name, gap))
            ok &= gap >= 2
    print('\nall targets met' if ok else '\nsome target missed')


if __name__ == '__main__':
    main()
