package dev.normkit.train;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPInputStream;
import java.util.zip.ZipException;

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
      if (!Files.isRegularFile(dir.resolve(imageFile(part)))) return false;
      if (!Files.isRegularFile(dir.resolve(labelFile(part)))) return false;
    }
    return true;
  }

  /** Both sets from the four files in {@code dir}; IOException naming the file if one is not such a file. */
  public static Split load(Path dir) throws IOException {
    if (!isPresent(dir)) {
      throw new IllegalArgumentException("no Fashion-MNIST IDX files (train-images-idx3-ubyte.gz, ...) in " + dir);
    }
    String source = dir.toString();
    Opener files = name -> Files.newInputStream(dir.resolve(name));
    return new Split(read(source, "train", files), read(source, "t10k", files));
  }

  /** The committed subset: the first 3000 training and first 1000 test images. */
  public static Split subset() throws IOException {
    return new Split(read("committed subset", "train", FashionMnist::resource),
        read("committed subset", "t10k", FashionMnist::resource));
  }

  private static String imageFile(String part) {
    return part + "-images-idx3-ubyte.gz";
  }

  private static String labelFile(String part) {
    return part + "-labels-idx1-ubyte.gz";
  }

  /** Opens one of the files by name. */
  private interface Opener {
    InputStream open(String name) throws IOException;
  }

  private static InputStream resource(String name) throws IOException {
    InputStream in = FashionMnist.class.getResourceAsStream(SUBSET + name);
    if (in == null) throw new IOException("resource " + SUBSET + name + " missing from the jar");
    return in;
  }

  /**
   * Reads an IDX image file (magic 0x803, n x 28 x 28 bytes) and its IDX label file (magic 0x801, n bytes). Any
   * problem is an IOException naming the file: not gzip, truncated, a bad header, a label out of range.
   */
  private static Dataset read(String source, String part, Opener opener) throws IOException {
    byte[] pixels = idx(opener, imageFile(part), 0x803, Network.SIZE, Network.SIZE);
    byte[] classes = idx(opener, labelFile(part), 0x801);
    int n = classes.length;
    if ((long) n * PIXELS != pixels.length) {
      throw new IOException(labelFile(part) + ": " + n + " labels for " + pixels.length / PIXELS + " images");
    }
    float[] normalized = new float[pixels.length];
    for (int i = 0; i < pixels.length; i++) normalized[i] = (float) (((pixels[i] & 0xff) / 255.0 - MEAN) / STD);
    int[] y = new int[n];
    for (int i = 0; i < n; i++) {
      y[i] = classes[i] & 0xff;
      if (y[i] >= Network.CLASSES) throw new IOException(labelFile(part) + ": label " + y[i] + " out of range");
    }
    return new Dataset(source, normalized, y);
  }

  /**
   * The data of gzip IDX file {@code name}: magic, item count n, the {@code itemDims}, then n items of their
   * product bytes. Read as it comes rather than allocated from the header's n, which a damaged file can make absurd.
   */
  private static byte[] idx(Opener opener, String name, int magic, int... itemDims) throws IOException {
    try (DataInputStream in = new DataInputStream(new BufferedInputStream(new GZIPInputStream(opener.open(name))))) {
      expect(name, in.readInt(), magic, "magic");
      long n = in.readInt(), itemBytes = 1;
      for (int d : itemDims) {
        expect(name, in.readInt(), d, "dimension");
        itemBytes *= d;
      }
      if (n < 0 || n * itemBytes > Integer.MAX_VALUE - 8) throw new IOException(name + ": bad IDX item count " + n);
      byte[] data = in.readNBytes((int) (n * itemBytes));
      if (data.length < n * itemBytes) throw new IOException(name + ": truncated");
      return data;
    } catch (EOFException e) { // in the gzip or IDX header
      throw new IOException(name + ": truncated", e);
    } catch (ZipException e) {
      throw new IOException(name + ": not valid gzip (" + e.getMessage() + ")", e);
    }
  }

  private static void expect(String name, int actual, int expected, String what) throws IOException {
    if (actual != expected) {
      throw new IOException(name + ": bad IDX " + what + " " + actual + ", expected " + expected);
    }
  }
}
