package dev.normkit.train;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;

/** The results of several trainings as a table (norm x batch size), JSON records, and an {@link AccuracyPlot}. */
public final class Report {
  private Report() {}

  /** Test accuracy in percent per norm label and batch size, norms in the order first trained. */
  static Map<String, Map<Integer, Double>> byNormAndBatch(List<Training.Result> results) {
    Map<String, Map<Integer, Double>> series = new LinkedHashMap<>();
    for (Training.Result r : results) {
      series.computeIfAbsent(r.config().norm().label(), k -> new LinkedHashMap<>())
          .put(r.config().batchSize(), 100 * r.testAccuracy());
    }
    return series;
  }

  /** A Markdown table: one row per norm, one column per batch size (largest first). */
  public static String table(List<Training.Result> results) {
    Map<String, Map<Integer, Double>> series = byNormAndBatch(results);
    TreeSet<Integer> batches = new TreeSet<>();
    series.values().forEach(s -> batches.addAll(s.keySet()));
    List<Integer> columns = new ArrayList<>(batches.descendingSet());
    StringBuilder sb = new StringBuilder("| norm |");
    for (int b : columns) sb.append(" batch ").append(b).append(" |");
    sb.append("\n|---|").append("---|".repeat(columns.size())).append('\n');
    for (Map.Entry<String, Map<Integer, Double>> row : series.entrySet()) {
      sb.append("| ").append(row.getKey()).append(" |");
      for (int b : columns) {
        Double a = row.getValue().get(b);
        sb.append(a == null ? " - |" : String.format(Locale.ROOT, " %.1f%% |", a));
      }
      sb.append('\n');
    }
    return sb.toString();
  }

  /** One JSON record per result. */
  public static String json(List<Training.Result> results, int threads) {
    StringBuilder sb = new StringBuilder("[\n");
    for (int i = 0; i < results.size(); i++) {
      Training.Result r = results.get(i);
      Training.Config c = r.config();
      sb.append(String.format(Locale.ROOT,
          "  {\"norm\": \"%s\", \"batch_size\": %d, \"epochs\": %d, \"lr\": %s, \"train_images\": %d, "
              + "\"test_accuracy\": %.4f, \"seconds\": %.2f, \"threads\": %d, \"seed\": %d}%s%n",
          c.norm().cliName(), c.batchSize(), c.epochs(), c.learningRate(), r.trainImages(), r.testAccuracy(),
          r.seconds(), threads, c.seed(), i + 1 < results.size() ? "," : ""));
    }
    return sb.append("]\n").toString();
  }

  public static void plot(List<Training.Result> results, String title, Path png) throws IOException {
    AccuracyPlot.write(byNormAndBatch(results), title, png);
  }
}
