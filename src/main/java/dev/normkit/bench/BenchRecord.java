package dev.normkit.bench;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * One measured case: median time, the minimum bytes moved, the achieved bandwidth, the streaming probe's bandwidth
 * over the same bytes measured in the same run, and their ratio (1.0 = as fast as a plain streaming kernel).
 */
public record BenchRecord(
    String op,
    String pass,
    String layout,
    long[] shape,
    Map<String, Object> params,
    int threads,
    double medianNs,
    long bytes,
    double probeMedianNs) {

  public double gbps() {
    return bytes / medianNs;
  }

  public double probeGbps() {
    return bytes / probeMedianNs;
  }

  public double ratio() {
    return gbps() / probeGbps();
  }

  /** The record as a JSON object with the fields of the benchmark contract. */
  public String toJson() {
    return "{\"op\": " + quote(op) + ", \"pass\": " + quote(pass) + ", \"layout\": " + quote(layout)
        + ", \"shape\": " + Arrays.toString(shape) + ", \"params\": " + json(params) + ", \"threads\": " + threads
        + ", \"median_ns\": " + Math.round(medianNs) + ", \"bytes\": " + bytes
        + String.format(", \"gbps\": %.3f, \"probe_gbps\": %.3f, \"ratio\": %.4f}", gbps(), probeGbps(), ratio());
  }

  /** A JSON array of records, one per line. */
  public static String toJson(List<BenchRecord> records) {
    return records.stream().map(BenchRecord::toJson).collect(Collectors.joining(",\n  ", "[\n  ", "\n]\n"));
  }

  private static String json(Object v) {
    if (v instanceof Map<?, ?> m) {
      return m.entrySet().stream()
          .map(e -> quote(String.valueOf(e.getKey())) + ": " + json(e.getValue()))
          .collect(Collectors.joining(", ", "{", "}"));
    }
    if (v instanceof long[] a) return Arrays.toString(a);
    if (v instanceof Number || v instanceof Boolean) return String.valueOf(v);
    return quote(String.valueOf(v));
  }

  private static String quote(String s) {
    return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
  }
}
