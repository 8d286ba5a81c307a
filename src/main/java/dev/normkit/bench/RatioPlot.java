package dev.normkit.bench;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Graphics2D;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * Draws the benchmark ratios (achieved bandwidth / streaming probe) as a horizontal bar chart: one row per case, one
 * bar per thread count, with the 0.6 target and the 0.8 stretch marked, so that a reader sees at a glance which
 * cases sit near the memory-bandwidth ceiling.
 */
public final class RatioPlot {
  private static final int ROW = 16;
  private static final int LABEL_WIDTH = 420;
  private static final int PLOT_WIDTH = 560;
  private static final double MAX_RATIO = 1.2;

  private RatioPlot() {}

  public static void write(List<BenchRecord> records, Path png) throws IOException {
    Map<String, Map<Integer, Double>> rows = new LinkedHashMap<>();
    TreeSet<Integer> threadCounts = new TreeSet<>();
    for (BenchRecord r : records) {
      String label = r.op() + "  " + r.pass() + "  " + r.layout() + "  " + BenchRunner.shapeText(r.shape());
      rows.computeIfAbsent(label, k -> new LinkedHashMap<>()).put(r.threads(), r.ratio());
      threadCounts.add(r.threads());
    }
    List<Integer> threads = new ArrayList<>(threadCounts);
    int barHeight = Math.max(3, (ROW - 4) / Math.max(1, threads.size()));
    int top = 60, bottom = 50;
    int width = LABEL_WIDTH + PLOT_WIDTH + 40;
    int height = top + rows.size() * ROW + bottom;
    Chart chart = new Chart(width, height, "normkit: bandwidth achieved / streaming probe (same bytes, same run)");
    Graphics2D g = chart.graphics();
    List<String> labels = new ArrayList<>();
    for (int t : threads) labels.add(t + (t == 1 ? " thread" : " threads"));
    int legendX = chart.legend(10, 44, labels, 90);
    g.drawString("dashed: 0.6 target, 0.8 stretch", legendX + 10, 44);
    int x0 = LABEL_WIDTH;
    int y = top;
    for (Map.Entry<String, Map<Integer, Double>> row : rows.entrySet()) {
      g.setColor(Color.DARK_GRAY);
      g.drawString(row.getKey(), 10, y + ROW - 4);
      for (int i = 0; i < threads.size(); i++) {
        Double ratio = row.getValue().get(threads.get(i));
        if (ratio == null) continue;
        int w = (int) Math.round(Math.min(ratio, MAX_RATIO) / MAX_RATIO * PLOT_WIDTH);
        g.setColor(Chart.PALETTE[i % Chart.PALETTE.length]);
        g.fillRect(x0, y + 2 + i * barHeight, Math.max(1, w), barHeight - 1);
      }
      y += ROW;
    }
    g.setColor(Color.BLACK);
    g.drawLine(x0, top, x0, y);
    for (double tick = 0; tick <= MAX_RATIO + 1e-9; tick += 0.2) {
      int tx = x0 + (int) Math.round(tick / MAX_RATIO * PLOT_WIDTH);
      g.drawLine(tx, y, tx, y + 4);
      g.drawString(String.format("%.1f", tick), tx - 8, y + 16);
    }
    g.drawString("ratio (1.0 = streaming speed)", x0 + PLOT_WIDTH / 2 - 70, y + 32);
    g.setStroke(new BasicStroke(1f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 1f, new float[] {4f, 4f}, 0f));
    for (double mark : new double[] {0.6, 0.8}) {
      int mx = x0 + (int) Math.round(mark / MAX_RATIO * PLOT_WIDTH);
      g.setColor(mark == 0.6 ? Color.RED : Color.GRAY);
      g.drawLine(mx, top, mx, y);
    }
    chart.write(png);
  }
}
