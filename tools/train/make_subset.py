#!/usr/bin/env python3
"""Writes the Fashion-MNIST subset committed with normkit: the first 3000 training and the first 1000 test images
(with their labels) of Debian's dataset-fashion-mnist, as gzip IDX files in
src/main/resources/fashion-mnist-subset/. `normkit train` falls back to it when the full data is not installed.

usage: python3 tools/train/make_subset.py [--data /usr/share/datasets/fashion-mnist] [--train 3000] [--test 1000]
"""
import argparse
import gzip
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, '..', '..', 'src', 'main', 'resources', 'fashion-mnist-subset')


def read(path):
    with gzip.open(path, 'rb') as f:
        return f.read()


def subset(data_dir, part, n):
    images = read(os.path.join(data_dir, part + '-images-idx3-ubyte.gz'))
    labels = read(os.path.join(data_dir, part + '-labels-idx1-ubyte.gz'))
    magic, count, rows, cols = struct.unpack('>IIII', images[:16])
    assert magic == 0x803 and (rows, cols) == (28, 28) and count >= n, (magic, count, rows, cols)
    magic, count = struct.unpack('>II', labels[:8])
    assert magic == 0x801 and count >= n
    pixels = images[16:16 + n * 784]
    classes = labels[8:8 + n]
    # mtime=0: the same bytes on every run, so regenerating does not change the committed files
    with gzip.GzipFile(os.path.join(OUT, part + '-images-idx3-ubyte.gz'), 'wb', 9, mtime=0) as f:
        f.write(struct.pack('>IIII', 0x803, n, 28, 28) + pixels)
    with gzip.GzipFile(os.path.join(OUT, part + '-labels-idx1-ubyte.gz'), 'wb', 9, mtime=0) as f:
        f.write(struct.pack('>II', 0x801, n) + classes)
    counts = [classes.count(bytes([c])) for c in range(10)]
    print(part, n, 'images; per class', counts)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--data', default='/usr/share/datasets/fashion-mnist')
    p.add_argument('--train', type=int, default=3000)
    p.add_argument('--test', type=int, default=1000)
    a = p.parse_args()
    os.makedirs(OUT, exist_ok=True)
    subset(a.data, 'train', a.train)
    subset(a.data, 't10k', a.test)


if __name__ == '__main__':
    main()
