package dev.normkit.cli;

import dev.normkit.bench.BenchCase;
import dev.normkit.bench.BenchCases;
import dev.normkit.bench.BenchRecord;
import dev.normkit.bench.BenchRunner;
import dev.normkit.bench.OverheadBench;
import dev.normkit.bench.RatioPlot;
import dev.normkit.bench.Soak;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.function.Predicate;

/**
 * {@code normkit bench}: the benchmark suite (every op, pass, layout and shape of {@link dev.normkit.bench.BenchCases}),
 * each case's median time beside a streaming probe over the same bytes; optionally as JSON records and a PNG chart.
 * {@code --soak N} instead runs N calls across all ops at small shapes and reports native memory and RSS.
 */
final class BenchCommand {
  static final String USAGE =
      String.join("\n",
          "usage: normkit bench [--threads T[,T...]] [--json F] [--plot F.png] [--quick] [--op OP] [--pass PASS]",
          "                     [--layout nchw|nhwc]",
          "  times every op x pass x layout x shape (median of many calls after warm-up) and a streaming kernel",
          "  over the same bytes in the same run; ratio = achieved GB/s / probe GB/s. Threads default: 1,2",
          "       normkit bench --soak N [--threads T]",
          "  N calls round-robin over every op and pass (small shapes); prints live native bytes and RSS",
          "       normkit bench --overhead [--threads T[,T...]] [--quick]",
          "  per-call time of the public API vs the bare kernel call / pre-bound oneDNN execute on tiny inputs,",
          "  with the heap bytes each API call allocates and the primitives it creates once warm",
          "  --soak and --overhead take only the options shown with them; any other is refused.",
          "");

  private BenchCommand() {}

  static int run(List<String> args, PrintStream out) throws IOException {
    List<String> rest = new ArrayList<>(args);
    boolean quick = rest.remove("--quick");
    boolean overhead = rest.remove("--overhead");
    Options o = Options.parse(rest,
        Set.of("--threads", "--json", "--plot", "--op", "--pass", "--layout", "--soak"), Set.of(), "bench");
    // The other modes take fewer options; one that does not apply is refused rather than ignored without a word
    // (bench --soak 3 --op foo --json /nonexistent/x.json used to run and exit 0).
    if (overhead) {
      o.requireOnly(Set.of("--threads"), "bench --overhead");
      for (int t : o.threadCounts("--threads", List.of(1, 2))) OverheadBench.run(t, quick, out);
      return 0;
    }
    if (o.has("--soak")) {
      if (quick) throw new IllegalArgumentException("option --quick does not apply to bench --soak");
      o.requireOnly(Set.of("--soak", "--threads"), "bench --soak");
      int calls = o.positiveInt("--soak", 0); // was a double cast to long: 2.7 ran 2 calls, 1e30 ran for ever
      return Soak.run(calls, o.threadCount("--threads", 1), out) ? 0 : 1;
    }
    List<Integer> threads = o.threadCounts("--threads", List.of(1, 2));
    Path json = o.outputPath("--json", null);
    Path plot = o.outputPath("--plot", null);
    Options.checkDistinct("--json", json, "--plot", plot);
    checkFilter(o, "--op", BenchCases.OPS);
    checkFilter(o, "--pass", BenchCases.PASSES);
    checkFilter(o, "--layout", BenchCases.LAYOUTS);
    Predicate<BenchCase> filter = c -> matches(o.get("--op"), c.op()) && matches(o.get("--pass"), c.pass())
        && matches(o.get("--layout"), c.layout());
    List<BenchRecord> records = new BenchRunner(quick).run(threads, filter, out);
    if (records.isEmpty()) throw new IllegalArgumentException("no benchmark case matches the filters");
    if (json != null) Files.writeString(json, BenchRecord.toJson(records), StandardCharsets.UTF_8);
    if (plot != null) RatioPlot.write(records, plot);
    return 0;
  }

  /** A filter option, when given, must name one of {@code known} (checked before any case runs). */
  private static void checkFilter(Options o, String name, List<String> known) {
    String v = o.get(name);
    if (v != null && !known.contains(v)) {
      throw new IllegalArgumentException("unknown " + name + " '" + v + "' (expected " + String.join(", ", known) + ")");
    }
  }

  private static boolean matches(String wanted, String value) {
    return wanted == null || wanted.equals(value);
  }
}
