package dev.normkit;

import java.util.Map;
import java.util.TreeMap;

/**
 * The largest error seen per quantity (e.g. "AVX512 y"), as {@link Close#relativeError}: max |a - e| / max |e| per
 * tensor, or relative to a given scale. Printed after a test class when the system property {@code normkit.errors} is set (mvn -Dnormkit.errors),
 * so that tolerances can be set from measured figures.
 */
final class MaxErrors {
  private final String title;
  private final Map<String, Double> worst = new TreeMap<>();

  MaxErrors(String title) {
    this.title = title;
  }

  synchronized void record(String quantity, float[] actual, float[] expected) {
    worst.merge(quantity, Close.relativeError(actual, expected), Math::max);
  }

  /** Records max |a - e| / scale, for an output measured against a scale of its own (see Close.assertWithin). */
  synchronized void record(String quantity, float[] actual, float[] expected, double scale) {
    double err = 0;
    for (int i = 0; i < expected.length; i++) err = Math.max(err, Math.abs(actual[i] - expected[i]));
    worst.merge(quantity, err / scale, Math::max);
  }

  synchronized void print() {
    if (System.getProperty("normkit.errors") == null) return;
    StringBuilder sb = new StringBuilder("max relative errors, " + title + ":");
    worst.forEach((k, v) -> sb.append(String.format("%n  %-28s %.2e", k, v)));
    System.out.println(sb);
  }
}
