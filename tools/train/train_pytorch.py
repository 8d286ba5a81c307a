#!/usr/bin/env python3
"""The network of `normkit train`, trained in PyTorch (Debian's python3-torch 1.13) with the same data, the same
initial weights, the same data order and the same hyper-parameters, so that the two can be compared side by side.

    /usr/bin/python3 tools/train/train_pytorch.py --sweep --threads 1 --json sweep-pytorch.json
    /usr/bin/python3 tools/train/train_pytorch.py --norm gnws --batch-size 2 --threads 1

Same as normkit (see dev.normkit.train.Network and Training):
- conv3x3(1->32, pad 1, no bias) -> norm -> ReLU -> maxpool2 -> conv3x3(32->64, pad 1, no bias) -> norm -> ReLU
  -> maxpool2 -> linear(64*7*7 -> 10); gnws = GroupNorm(8) after weight-standardized convs (the seed's Conv2d:
  (w - mean) / (unbiased std + 1e-5) per filter); in = InstanceNorm2d(affine=True); ln = LayerNorm((C, H, W)).
- initial weights: uniform in +-1/sqrt(fan_in) (PyTorch's default bounds), drawn from Java's
  SplittableRandom(seed) (SplitMix64, reimplemented below) in the order conv1, conv2, linear weight, linear bias.
- data order: Fisher-Yates with j = int(nextDouble() * (i + 1)) from SplittableRandom(seed + 1), continued across
  epochs; the last partial batch is dropped.
- pixels / 255, normalized with mean 0.2860 and std 0.3530; SGD with momentum 0.9, no weight decay; learning rate
  0.02 at batch >= 32, 0.01 at 4..31, 0.005 below 4 unless --lr is given; evaluation in eval mode, batches of 500.
- "seconds" is the training time (no data loading, no evaluation).
"""
import argparse
import gzip
import json
import math
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
DEBIAN_DIR = '/usr/share/datasets/fashion-mnist'
SUBSET_DIR = os.path.join(HERE, '..', '..', 'src', 'main', 'resources', 'fashion-mnist-subset')
MEAN, STD = 0.2860, 0.3530
LABELS = {'bn': 'BN', 'gn': 'GN', 'gnws': 'GN+WS', 'in': 'IN', 'ln': 'LN'}
GROUPS = 8
EVAL_BATCH = 500
MASK = (1 << 64) - 1


class SplittableRandom:
    """java.util.SplittableRandom(seed): SplitMix64 with the golden gamma; nextDouble as in the JDK."""
    GAMMA = 0x9E3779B97F4A7C15

    def __init__(self, seed):
        self.seed = seed & MASK

    def next_long(self):
        self.seed = (self.seed + self.GAMMA) & MASK
        z = self.seed
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def next_double(self):
        return (self.next_long() >> 11) * (1.0 / (1 << 53))


def uniform(random, shape, fan_in):
    bound = 1.0 / math.sqrt(fan_in)
    n = int(np.prod(shape))
    values = [(2 * random.next_double() - 1) * bound for _ in range(n)]
    return torch.from_numpy(np.array(values, dtype=np.float64).astype(np.float32).reshape(shape))


def shuffle(order, random):
    for i in range(len(order) - 1, 0, -1):
        j = int(random.next_double() * (i + 1))
        order[i], order[j] = order[j], order[i]


def default_lr(batch_size):
    return 0.02 if batch_size >= 32 else 0.01 if batch_size >= 4 else 0.005


class StdConv2d(nn.Conv2d):
    """The seed's weight-standardized Conv2d: (w - mean) / (std + 1e-5) per filter, std unbiased."""

    def forward(self, x):
        w = self.weight
        mean = w.mean(dim=(1, 2, 3), keepdim=True)
        std = w.view(w.size(0), -1).std(dim=1).view(-1, 1, 1, 1)
        return F.conv2d(x, (w - mean) / (std + 1e-5), self.bias, self.stride, self.padding)


def norm_layer(norm, channels, size):
    if norm == 'bn':
        return nn.BatchNorm2d(channels)
    if norm in ('gn', 'gnws'):
        return nn.GroupNorm(GROUPS, channels)
    if norm == 'in':
        return nn.InstanceNorm2d(channels, affine=True)
    if norm == 'ln':
        return nn.LayerNorm([channels, size, size])
    raise ValueError(norm)


def network(norm, seed):
    conv = StdConv2d if norm == 'gnws' else nn.Conv2d
    model = nn.Sequential(
        conv(1, 32, 3, padding=1, bias=False), norm_layer(norm, 32, 28), nn.ReLU(), nn.MaxPool2d(2),
        conv(32, 64, 3, padding=1, bias=False), norm_layer(norm, 64, 14), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 7 * 7, 10))
    random = SplittableRandom(seed)
    with torch.no_grad():
        model[0].weight.copy_(uniform(random, (32, 1, 3, 3), 9))
        model[4].weight.copy_(uniform(random, (64, 32, 3, 3), 32 * 9))
        model[9].weight.copy_(uniform(random, (10, 64 * 7 * 7), 64 * 7 * 7))
        model[9].bias.copy_(uniform(random, (10,), 64 * 7 * 7))
    return model


def read_idx(data_dir, part):
    with gzip.open(os.path.join(data_dir, part + '-images-idx3-ubyte.gz'), 'rb') as f:
        raw = f.read()
    magic, n, rows, cols = struct.unpack('>IIII', raw[:16])
    assert magic == 0x803 and (rows, cols) == (28, 28)
    pixels = np.frombuffer(raw, dtype=np.uint8, offset=16, count=n * 784).astype(np.float64)
    images = ((pixels / 255.0 - MEAN) / STD).astype(np.float32).reshape(n, 1, 28, 28)
    with gzip.open(os.path.join(data_dir, part + '-labels-idx1-ubyte.gz'), 'rb') as f:
        raw = f.read()
    magic, m = struct.unpack('>II', raw[:8])
    assert magic == 0x801 and m == n
    labels = np.frombuffer(raw, dtype=np.uint8, offset=8, count=n).astype(np.int64)
    return torch.from_numpy(images), torch.from_numpy(labels)


def load(data_dir):
    if data_dir is None:
        if os.path.exists(os.path.join(DEBIAN_DIR, 'train-images-idx3-ubyte.gz')):
            data_dir = DEBIAN_DIR
        else:
            print('note: Fashion-MNIST is not installed in %s (sudo apt-get install dataset-fashion-mnist); '
                  'using the committed subset' % DEBIAN_DIR)
            data_dir = SUBSET_DIR
    return data_dir, read_idx(data_dir, 'train'), read_idx(data_dir, 't10k')


def accuracy(model, images, labels):
    model.eval()
    hits = 0
    with torch.no_grad():
        for start in range(0, len(labels), EVAL_BATCH):
            logits = model(images[start:start + EVAL_BATCH])
            hits += int((logits.argmax(dim=1) == labels[start:start + EVAL_BATCH]).sum())
    model.train()
    return hits / len(labels)


def train(norm, batch_size, epochs, lr, seed, train_set, test_set):
    images, labels = train_set
    n = len(labels)
    steps = n // batch_size
    model = network(norm, seed)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    order = list(range(n))
    random = SplittableRandom(seed + 1)
    seconds = 0.0
    epoch_loss = 0.0
    last_report = time.perf_counter()
    for epoch in range(1, epochs + 1):
        model.train()
        shuffle(order, random)
        perm = torch.tensor(order, dtype=torch.int64)
        epoch_loss, since_report, count = 0.0, 0.0, 0
        start = time.perf_counter()
        for step in range(steps):
            idx = perm[step * batch_size:(step + 1) * batch_size]
            loss = F.cross_entropy(model(images[idx]), labels[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            value = loss.item()
            epoch_loss += value
            since_report += value
            count += 1
            now = time.perf_counter()
            if now - last_report >= 5 or step + 1 == steps:
                print('  [%s batch %d] epoch %d/%d  step %d/%d (%3.0f%%)  loss %.4f  %.0f s' % (
                    LABELS[norm], batch_size, epoch, epochs, step + 1, steps, 100.0 * (step + 1) / steps,
                    since_report / count, seconds + now - start), flush=True)
                last_report, since_report, count = now, 0.0, 0
        seconds += time.perf_counter() - start
        epoch_loss /= steps
    return accuracy(model, *test_set), seconds, epoch_loss


def table(results):
    batches = sorted({r['batch_size'] for r in results}, reverse=True)
    norms = []
    for r in results:
        if r['norm'] not in norms:
            norms.append(r['norm'])
    lines = ['| norm |' + ''.join(' batch %d |' % b for b in batches), '|---|' + '---|' * len(batches)]
    for norm in norms:
        cells = []
        for b in batches:
            hit = [r for r in results if r['norm'] == norm and r['batch_size'] == b]
            cells.append(' %.1f%% |' % (100 * hit[0]['test_accuracy']) if hit else ' - |')
        lines.append('| %s |' % LABELS[norm] + ''.join(cells))
    return '\n'.join(lines) + '\n'


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--sweep', action='store_true', help='norms bn,gn,gnws x batch sizes 32,4,2, one epoch each')
    p.add_argument('--norm', help='comma-separated: bn, gn, gnws, in, ln (default gnws; --sweep: bn,gn,gnws)')
    p.add_argument('--batch-size', help='comma-separated (default 32; --sweep: 32,4,2)')
    p.add_argument('--epochs', type=int, default=1)
    p.add_argument('--lr', type=float)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--threads', type=int)
    p.add_argument('--data', help='directory with the four gzip IDX files (default %s)' % DEBIAN_DIR)
    p.add_argument('--json')
    p.add_argument('--train-images', type=int)
    p.add_argument('--test-images', type=int)
    a = p.parse_args()
    norms = (a.norm or ('bn,gn,gnws' if a.sweep else 'gnws')).split(',')
    for norm in norms:
        if norm not in LABELS:
            p.error('unknown norm %r' % norm)
    batches = [int(b) for b in (a.batch_size or ('32,4,2' if a.sweep else '32')).split(',')]
    if a.threads:
        torch.set_num_threads(a.threads)
    data_dir, train_set, test_set = load(a.data)
    if a.train_images:
        train_set = (train_set[0][:a.train_images], train_set[1][:a.train_images])
    if a.test_images:
        test_set = (test_set[0][:a.test_images], test_set[1][:a.test_images])
    print('data: %s (%d training, %d test images); threads %d; torch %s' % (
        data_dir, len(train_set[1]), len(test_set[1]), torch.get_num_threads(), torch.__version__))
    results = []
    for b in batches:
        for norm in norms:
            lr = a.lr if a.lr else default_lr(b)
            acc, seconds, loss = train(norm, b, a.epochs, lr, a.seed, train_set, test_set)
            print('%-5s batch %2d  lr %s  epochs %d: test accuracy %.2f%%  (%.1f s training, final loss %.4f)' % (
                LABELS[norm], b, lr, a.epochs, 100 * acc, seconds, loss), flush=True)
            results.append({'norm': norm, 'batch_size': b, 'epochs': a.epochs, 'lr': lr,
                            'train_images': len(train_set[1]), 'test_accuracy': round(acc, 4),
                            'seconds': round(seconds, 2), 'threads': torch.get_num_threads(), 'seed': a.seed})
    print()
    sys.stdout.write(table(results))
    if a.json:
        with open(a.json, 'w') as f:
            json.dump(results, f, indent=1)
            f.write('\n')


if __name__ == '__main__':
    main()
