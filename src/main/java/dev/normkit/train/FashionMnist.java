package dev.normkit.train;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPInputStream;

/**
 * Fashion-MNIST (Xiao, Rasul &amp; Vollgraf, 2017; Zalando Research, MIT licence) from its gzip IDX files:
 * {@code train-images-idx3-ubyte.gz}, {@code train-labels-idx1-ubyte.gz}, {@code t10k-images-idx3-ubyte.gz},
 * {@code t10k-labels-idx1-ubyte.gz}. Debian's {@code dataset-fashion-mnist} installs them in {@link #DEBIAN_DIR};
 * a subset of the first 3000 training and 1000 test images is committed as a resource ({@link #subset}).
 *
 * <p>Pixels p in 0..255 become {@code (float) ((p / 255.0 - 0.2860) / 0.3530)}, the dataset's mean and standard
 * deviation, as in the PyTorch script.
 */
public final class FashionMnist {
  public static final Path DEBIAN_DIR = Path.of("/usr/share/datasets/fashion-mnist");
  public static final String INSTALL_HINT = "sudo apt-get install dataset-fashion-mnist";
  static final double MEAN = 0.2860, STD = 0.3530;
  private static final String SUBSET = "/fashion-mnist-subset/";
  private static final int PIXELS = Network.SIZE * Network.SIZE;

  /** Images (n * 784 normalized floats, one image after another) and labels 0..9. */
  public record Dataset(String source, float[] images, int[] labels) {
    public int size() {
      return labels.length;
    }

    /** The first {@code n} examples (all if n &gt;= size). */
    public Dataset first(int n) {
      if (n >= size()) return this;
      return new Dataset(source, java.util.Arrays.copyOf(images, n * PIXELS), java.util.Arrays.copyOf(labels, n));
    }
  }

  /** The training and test sets. */
  public record Split(Dataset train, Dataset test) {}

  private FashionMnist() {}

  /** Whether {@code dir} holds the four files. */
  public static boolean isPresent(Path dir) {
    for (String part : new String[] {"train", "t10k"}) {
      if (!Files.isRegularFile(dir.resolve(part + "-images-idx3-ubyte.gz"))) return false;
      if (!Files.isRegularFile(dir.resolve(part + "-labels-idx1-ubyte.gz"))) return false;
    }
    return true;
  }

  /** Both sets from the four files in {@code dir}. */
  public static Split load(Path dir) throws IOException {
    if (!isPresent(dir)) {
      throw new IllegalArgumentException("no Fashion-MNIST IDX files (train-images-idx3-ubyte.gz, ...) in " + dir);
    }
    String source = dir.toString();
    return new Split(read(source, dir, "train"), read(source, dir, "t10k"));
  }

  /** The committed subset: the first 3000 training and first 1000 test images. */
  public static Split subset() throws IOException {
    return new Split(readResource("train"), readResource("t10k"));
  }

  private static Dataset read(String source, Path dir, String part) throws IOException {
    try (InputStream images = Files.newInputStream(dir.resolve(part + "-images-idx3-ubyte.gz"));
        InputStream labels = Files.newInputStream(dir.resolve(part + "-labels-idx1-ubyte.gz"))) {
      return read(source, images, labels);
    }
  }

  private static Dataset readResource(String part) throws IOException {
    try (InputStream images = resource(part + "-images-idx3-ubyte.gz");
        InputStream labels = resource(part + "-labels-idx1-ubyte.gz")) {
      return read("committed subset", images, labels);
    }
  }

  private static InputStream resource(String name) throws IOException {
    InputStream in = FashionMnist.class.getResourceAsStream(SUBSET + name);
    if (in == null) throw new IOException("resource " + SUBSET + name + " missing from the jar");
    return in;
  }

  /** Reads an IDX image file (magic 0x803, n x 28 x 28 bytes) and its IDX label file (magic 0x801, n bytes). */
  static Dataset read(String source, InputStream imageFile, InputStream labelFile) throws IOException {
    DataInputStream images = new DataInputStream(new BufferedInputStream(new GZIPInputStream(imageFile)));
    DataInputStream labels = new DataInputStream(new BufferedInputStream(new GZIPInputStream(labelFile)));
    expect(images.readInt(), 0x803, "image file magic");
    int n = images.readInt();
    expect(images.readInt(), Network.SIZE, "image rows");
    expect(images.readInt(), Network.SIZE, "image columns");
    expect(labels.readInt(), 0x801, "label file magic");
    expect(labels.readInt(), n, "label count");
    byte[] pixels = new byte[n * PIXELS];
    byte[] classes = new byte[n];
    try {
      images.readFully(pixels);
      labels.readFully(classes);
    } catch (EOFException e) {
      throw new IOException("truncated Fashion-MNIST file in " + source, e);
    }
    float[] normalized = new float[pixels.length];
    for (int i = 0; i < pixels.length; i++) normalized[i] = (float) (((pixels[i] & 0xff) / 255.0 - MEAN) / STD);
    int[] y = new int[n];
    for (int i = 0; i < n; i++) {
      y[i] = classes[i] & 0xff;
      if (y[i] >= Network.CLASSES) throw new IOException("label " + y[i] + " out of range in " + source);
    }
    return new Dataset(source, normalized, y);
  }

  private static void expect(int actual, int expected, String what) throws IOException {
    if (actual != expected) throw new IOException("bad IDX " + what + ": " + actual + ", expected " + expected);
  }
}
