package dev.normkit.cli;

import dev.normkit.Normkit;
import dev.normkit.train.FashionMnist;
import dev.normkit.train.NormKind;
import dev.normkit.train.Report;
import dev.normkit.train.Training;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * {@code normkit train}: trains the seed's small CNN ({@link dev.normkit.train.Network}) on Fashion-MNIST with
 * each requested norm and batch size, and reports test accuracy; {@code --sweep} is BN, GN and GN+WS at batch sizes
 * 32, 4 and 2 for one epoch, with a table and a plot.
 */
final class TrainCommand {
  static final String USAGE =
      String.join("\n",
          "usage: normkit train [--norm bn|gn|gnws|in|ln[,...]] [--batch-size B[,...]] [--epochs E] [--lr LR]",
          "                     [--seed S] [--threads T] [--data DIR] [--json F] [--plot F.png]",
          "                     [--train-images N] [--test-images N]",
          "       normkit train --sweep [options]     norms bn,gn,gnws x batch sizes 32,4,2, one epoch each",
          "  trains conv3x3(1->32)-norm-ReLU-maxpool-conv3x3(32->64)-norm-ReLU-maxpool-linear(3136->10) with SGD",
          "  (momentum 0.9) on Fashion-MNIST, once per norm x batch size, and prints the test accuracy of each.",
          "  gnws = group norm (8 groups) after weight-standardized convolutions. Defaults: --norm gnws",
          "  --batch-size 32 --epochs 1 --seed 0; --lr 0.02 at batch >= 32, 0.01 at 4..31, 0.005 below 4.",
          "  --data DIR: the four gzip IDX files (default " + FashionMnist.DEBIAN_DIR + ", from Debian's",
          "  dataset-fashion-mnist; without it, a committed subset of 3000 training and 1000 test images).",
          "  --json F: one record per configuration; --plot F.png: accuracy vs batch size (--sweep: sweep.png).",
          "  --train-images / --test-images N: use only the first N images (quick runs).",
          "");

  private static final long REPORT_EVERY_NANOS = 5_000_000_000L;

  private TrainCommand() {}

  static int run(List<String> args, PrintStream out, PrintStream err) throws IOException {
    List<String> rest = new ArrayList<>(args);
    boolean sweep = rest.remove("--sweep");
    Options o = Options.parse(rest, Set.of("--norm", "--batch-size", "--epochs", "--lr", "--seed", "--threads",
        "--data", "--json", "--plot", "--train-images", "--test-images"), Set.of(), "train");
    List<NormKind> norms = o.list("--norm", NormKind::parse,
        sweep ? List.of(NormKind.BN, NormKind.GN, NormKind.GNWS) : List.of(NormKind.GNWS));
    List<Integer> batches = o.positiveInts("--batch-size", sweep ? List.of(32, 4, 2) : List.of(32));
    int epochs = o.positiveInt("--epochs", 1);
    double lr = o.number("--lr", Double.NaN);
    if (o.has("--lr") && !(lr > 0 && Double.isFinite(lr))) {
      throw new IllegalArgumentException("--lr must be a positive number, got " + o.get("--lr"));
    }
    long seed = o.integer("--seed", 0L);
    int threads = o.threadCount("--threads", Normkit.numThreads());
    Path json = o.outputPath("--json", null);
    Path plot = o.outputPath("--plot", sweep ? Path.of("sweep.png") : null);
    Options.checkDistinct("--json", json, "--plot", plot);

    int previousThreads = Normkit.numThreads();
    Normkit.setNumThreads(threads);
    try {
      FashionMnist.Split all = loadData(o, out);
      int trainImages = o.positiveInt("--train-images", all.train().size());
      int testImages = o.positiveInt("--test-images", all.test().size());
      FashionMnist.Split data = new FashionMnist.Split(all.train().first(trainImages), all.test().first(testImages));
      for (int b : batches) {
        if (b > data.train().size()) {
          throw new IllegalArgumentException("--batch-size " + b + " exceeds the " + data.train().size() + " training images");
        }
      }
      out.printf(Locale.ROOT, "data: %s (%d training, %d test images); threads %d%n", data.train().source(),
          data.train().size(), data.test().size(), Normkit.numThreads());

      List<Training.Result> results = new ArrayList<>();
      ProgressLine progress = new ProgressLine(out);
      for (int b : batches) {
        for (NormKind norm : norms) {
          Training.Config config = new Training.Config(norm, b, epochs, lr, seed);
          progress.start();
          Training.Result r = Training.run(config, data, progress);
          results.add(r);
          out.printf(Locale.ROOT, "%-5s batch %2d  lr %s  epochs %d: test accuracy %.2f%%  (%.1f s training, final loss %.4f)%n",
              norm.label(), b, config.learningRate(), epochs, 100 * r.testAccuracy(), r.seconds(), r.lastEpochLoss());
        }
      }
      out.println();
      out.print(Report.table(results));
      if (json != null) Files.writeString(json, Report.json(results, Normkit.numThreads()), StandardCharsets.UTF_8);
      if (plot != null) {
        String title = String.format(Locale.ROOT, "normkit on Fashion-MNIST (%d training images, %d epoch%s)",
            data.train().size(), epochs, epochs == 1 ? "" : "s");
        Report.plot(results, title, plot);
        out.println("plot: " + plot);
      }
      return 0;
    } finally {
      Normkit.setNumThreads(previousThreads); // the setting is process-wide; leave it as found
    }
  }

  /**
   * The data, read before any training. Files in {@code --data DIR} that are not Fashion-MNIST's (not gzip,
   * truncated, a bad IDX header) are the user's input, so an input error naming the directory and the file.
   */
  private static FashionMnist.Split loadData(Options o, PrintStream out) throws IOException {
    if (o.has("--data")) {
      Path dir = o.path("--data");
      try {
        return FashionMnist.load(dir);
      } catch (IOException e) {
        throw new IllegalArgumentException("--data " + dir + ": " + e.getMessage());
      }
    }
    if (FashionMnist.isPresent(FashionMnist.DEBIAN_DIR)) return FashionMnist.load(FashionMnist.DEBIAN_DIR);
    out.println("note: Fashion-MNIST is not installed in " + FashionMnist.DEBIAN_DIR + " (install it with: "
        + FashionMnist.INSTALL_HINT + ", or pass --data DIR); using the committed subset");
    return FashionMnist.subset();
  }

  /** Prints a progress line at most every 5 seconds: configuration, step, mean loss since the last line, time. */
  private static final class ProgressLine implements Training.Progress {
    private final PrintStream out;
    private long start, last;
    private double lossSum;
    private int lossCount;

    ProgressLine(PrintStream out) {
      this.out = out;
    }

    void start() {
      start = last = System.nanoTime();
      lossSum = 0;
      lossCount = 0;
    }

    @Override
    public void step(Training.Config c, int epoch, int step, int steps, double loss) {
      lossSum += loss;
      lossCount++;
      long now = System.nanoTime();
      if (now - last < REPORT_EVERY_NANOS && !(step == steps && epoch == c.epochs())) return;
      out.printf(Locale.ROOT, "  [%s batch %d] epoch %d/%d  step %d/%d (%3.0f%%)  loss %.4f  %.0f s%n",
          c.norm().label(), c.batchSize(), epoch, c.epochs(), step, steps, 100.0 * step / steps,
          lossSum / lossCount, (now - start) / 1e9);
      out.flush();
      last = now;
      lossSum = 0;
      lossCount = 0;
    }
  }
}
