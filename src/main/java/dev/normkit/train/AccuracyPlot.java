package dev.normkit.train;

import dev.normkit.bench.Chart;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Graphics2D;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * Test accuracy against batch size, one line per norm, batch sizes on a log2 axis decreasing to the right: the
 * shape of the group-norm paper's figure (Wu &amp; He, 2018, figure 1), where batch norm's line falls at small
 * batches and group norm's stays.
 */
public final class AccuracyPlot {
  private static final int LEFT = 70, TOP = 60, PLOT_W = 520, PLOT_H = 330, RIGHT = 40, BOTTOM = 60;

  private AccuracyPlot() {}

  /** {@code series}: norm label to (batch size to accuracy in percent), in legend order. */
  public static void write(Map<String, Map<Integer, Double>> series, String title, Path png) throws IOException {
    TreeSet<Integer> batches = new TreeSet<>();
    double lo = Double.POSITIVE_INFINITY, hi = Double.NEGATIVE_INFINITY;
    for (Map<Integer, Double> s : series.values()) {
      batches.addAll(s.keySet());
      for (double a : s.values()) {
        lo = Math.min(lo, a);
        hi = Math.max(hi, a);
      }
    }
    double yMin = Math.floor(lo - 1), yMax = Math.ceil(hi + 1);
    double xMin = log2(batches.first()) - 0.3, xMax = log2(batches.last()) + 0.3;
    Chart chart = new Chart(LEFT + PLOT_W + RIGHT, TOP + PLOT_H + BOTTOM, title);
    Graphics2D g = chart.graphics();
    chart.legend(LEFT, 44, new ArrayList<>(series.keySet()), 90);
    // axes, grid and ticks
    g.setColor(Color.BLACK);
    g.drawRect(LEFT, TOP, PLOT_W, PLOT_H);
    double step = yMax - yMin > 10 ? 2 : 1;
    for (double v = yMin; v <= yMax + 1e-9; v += step) {
      int y = py(v, yMin, yMax);
      g.setColor(new Color(0xdddddd));
      g.drawLine(LEFT + 1, y, LEFT + PLOT_W - 1, y);
      g.setColor(Color.BLACK);
      g.drawLine(LEFT - 4, y, LEFT, y);
      g.drawString(String.format("%.0f", v), LEFT - 26, y + 4);
    }
    for (int b : batches) {
      int x = px(log2(b), xMin, xMax);
      g.drawLine(x, TOP + PLOT_H, x, TOP + PLOT_H + 4);
      g.drawString(Integer.toString(b), x - 4, TOP + PLOT_H + 17);
    }
    g.drawString("batch size (images per step, log scale)", LEFT + PLOT_W / 2 - 100, TOP + PLOT_H + 38);
    Graphics2D vertical = (Graphics2D) g.create();
    vertical.rotate(-Math.PI / 2);
    vertical.drawString("test accuracy (%)", -(TOP + PLOT_H / 2 + 45), 20);
    vertical.dispose();
    // one line per series, with its points labelled
    int i = 0;
    for (Map<Integer, Double> s : series.values()) {
      Color color = Chart.PALETTE[i++ % Chart.PALETTE.length];
      List<int[]> points = new ArrayList<>();
      for (int b : batches) {
        Double a = s.get(b);
        if (a != null) points.add(new int[] {px(log2(b), xMin, xMax), py(a, yMin, yMax), (int) Math.round(a * 10)});
      }
      g.setColor(color);
      g.setStroke(new BasicStroke(2f));
      for (int k = 1; k < points.size(); k++) {
        g.drawLine(points.get(k - 1)[0], points.get(k - 1)[1], points.get(k)[0], points.get(k)[1]);
      }
      for (int[] p : points) {
        g.fillOval(p[0] - 4, p[1] - 4, 8, 8);
        g.drawString(String.format("%.1f", p[2] / 10.0), p[0] + 6, p[1] - 6);
      }
    }
    chart.write(png);
  }

  private static double log2(int b) {
    return Math.log(b) / Math.log(2);
  }

  /** Larger batches to the left, as in the group-norm paper. */
  private static int px(double v, double min, double max) {
    return LEFT + (int) Math.round((max - v) / (max - min) * PLOT_W);
  }

  private static int py(double v, double min, double max) {
    return TOP + PLOT_H - (int) Math.round((v - min) / (max - min) * PLOT_H);
  }
}
