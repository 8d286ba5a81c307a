package dev.normkit;

import dev.normkit.cli.Npy;
import dev.normkit.cli.NpyArray;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One PyTorch golden case from {@code src/test/resources/golden/} (written by
 * {@code tools/golden/generate_golden.py}): its op, parameters, input tensors and expected outputs, read from the
 * manifest line {@code <case> op=<op> seed=<s> <param>=<value> ... in:<name>=<shape> ... out:<name>=<shape> ...} and
 * the case's {@code in_<name>.npy} / {@code out_<name>.npy} files.
 */
final class GoldenCase {
  private final String root;
  final String name;
  final String op;
  final Map<String, String> params = new LinkedHashMap<>();
  final Map<String, NpyArray> inputs = new LinkedHashMap<>();
  final Map<String, NpyArray> outputs = new LinkedHashMap<>();

  private GoldenCase(String root, String line) {
    this.root = root;
    String[] fields = line.trim().split("\\s+");
    name = fields[0];
    for (int i = 1; i < fields.length; i++) {
      String f = fields[i];
      int eq = f.indexOf('=');
      String key = f.substring(0, eq), value = f.substring(eq + 1);
      if (key.startsWith("in:")) {
        inputs.put(key.substring(3), load("in_" + key.substring(3), value));
      } else if (key.startsWith("out:")) {
        outputs.put(key.substring(4), load("out_" + key.substring(4), value));
      } else {
        params.put(key, value);
      }
    }
    op = params.get("op");
  }

  /** Every case of the golden manifest (float64 PyTorch results). */
  static List<GoldenCase> all() {
    return all("/golden/");
  }

  /** Every case of the manifest under the resource directory {@code root}, e.g. "/special/". */
  static List<GoldenCase> all(String root) {
    List<GoldenCase> cases = new ArrayList<>();
    for (String line : new String(bytes(root + "manifest.txt"), StandardCharsets.UTF_8).split("\n")) {
      if (!line.isBlank() && !line.startsWith("#")) cases.add(new GoldenCase(root, line));
    }
    return cases;
  }

  /** Reads {@code file}.npy and checks it has the manifest's shape. */
  private NpyArray load(String file, String shape) {
    NpyArray a = Npy.read(bytes(root + name + "/" + file + ".npy"));
    if (!a.toShape().equals(Shape.parse(shape))) {
      throw new IllegalStateException(name + "/" + file + " has shape " + a.toShape() + ", manifest says " + shape);
    }
    return a;
  }

  private static byte[] bytes(String resource) {
    try (InputStream in = GoldenCase.class.getResourceAsStream(resource)) {
      if (in == null) throw new IllegalStateException("missing test resource " + resource);
      return in.readAllBytes();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  double number(String key) {
    return Double.parseDouble(param(key));
  }

  boolean flag(String key) {
    return Boolean.parseBoolean(param(key));
  }

  /** An int parameter, or one of a pair written "(h,w)": {@code index} 0 or 1. */
  int pairElement(String key, int index) {
    String v = param(key);
    if (!v.startsWith("(")) return Integer.parseInt(v);
    return Math.toIntExact(Shape.parse(v).dim(index));
  }

  String param(String key) {
    String v = params.get(key);
    if (v == null) throw new IllegalStateException(name + ": no parameter " + key);
    return v;
  }

  /** A new tensor holding input {@code key} laid out as {@code layout}, or null when the case has none. */
  Tensor input(String key, Layout layout) {
    NpyArray a = inputs.get(key);
    return a == null ? null : Tensor.of(a.data(), a.toShape(), layout);
  }

  @Override
  public String toString() {
    return name;
  }
}
