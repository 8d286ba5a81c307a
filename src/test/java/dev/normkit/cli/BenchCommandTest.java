package dev.normkit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code normkit bench} refuses bad options before it measures anything: exit 2, one {@code error:} line, nothing on
 * stdout, no file written. (An unwritable --json used to surface as an internal error, exit 1, after the whole run,
 * and an unknown --op after the table's header.) The measurements themselves are not timed in tests.
 */
class BenchCommandTest {
  @TempDir Path dir;

  private static void assertRefused(CliRun r, String message) {
    assertEquals(2, r.code(), r.out() + r.err());
    assertEquals("", r.out(), "nothing measured or printed");
    assertEquals(1, r.err().strip().lines().count(), r.err());
    assertEquals("error: " + message, r.err().strip());
  }

  @Test
  void outputFilesAreCheckedBeforeAnyCaseRuns() throws Exception {
    Path missing = dir.resolve("missing").resolve("b.json");
    assertRefused(CliRun.of("bench", "--json", missing.toString()),
        "--json " + missing + ": directory " + missing.getParent() + " does not exist");
    assertRefused(CliRun.of("bench", "--plot", dir.toString()), "--plot " + dir + ": is a directory");
    Path same = dir.resolve("same");
    assertRefused(CliRun.of("bench", "--json", same.toString(), "--plot", same.toString()),
        "--json and --plot name the same file " + same);
    assertRefused(CliRun.of("bench", "--json", ""), "--json needs a file name");
    assertRefused(CliRun.of("bench", "--json", same + "/"), "--json '" + same + "/' names a directory, not a file");
    try (var files = Files.list(dir)) {
      assertEquals(0, files.count(), "no file written");
    }
  }

  /** ",".split(",") is empty: "--threads ," ran no case, or nothing at all with --overhead. */
  @Test
  void aThreadListNamingNoValueIsRefused() throws Exception {
    Path json = dir.resolve("b.json");
    assertRefused(CliRun.of("bench", "--threads", ",", "--json", json.toString()), "--threads ',' names no value");
    assertRefused(CliRun.of("bench", "--overhead", "--quick", "--threads", ","), "--threads ',' names no value");
    assertRefused(CliRun.of("bench", "--threads", "1,,2"), "--threads '1,,2' has an empty item");
    assertTrue(Files.notExists(json), "nothing written");
  }

  /** --soak and --overhead used to ignore the filters and output files, run, and exit 0. */
  @Test
  void soakAndOverheadRefuseOptionsThatDoNotApply() {
    Path json = dir.resolve("x.json");
    assertRefused(CliRun.of("bench", "--soak", "3", "--op", "foo", "--pass", "bar", "--json", json.toString()),
        "option --op does not apply to bench --soak");
    assertRefused(CliRun.of("bench", "--soak", "3", "--json", json.toString()),
        "option --json does not apply to bench --soak");
    assertRefused(CliRun.of("bench", "--soak", "3", "--quick"), "option --quick does not apply to bench --soak");
    assertRefused(CliRun.of("bench", "--overhead", "--quick", "--threads", "1", "--op", "foo", "--json",
        json.toString()), "option --op does not apply to bench --overhead");
    assertRefused(CliRun.of("bench", "--overhead", "--soak", "3"), "option --soak does not apply to bench --overhead");
    assertTrue(Files.notExists(json), "nothing written");
  }

  /** --soak was a double cast to long: 2.7 ran 2 calls and 1e30 ran for ever. It runs on one thread count. */
  @Test
  void soakTakesAPositiveIntegerAndOneThreadCount() {
    assertRefused(CliRun.of("bench", "--soak", "2.7"), "--soak '2.7' is not an integer");
    assertRefused(CliRun.of("bench", "--soak", "1e30"), "--soak '1e30' is not an integer");
    assertRefused(CliRun.of("bench", "--soak", "0"), "--soak must be a positive integer, got 0");
    assertRefused(CliRun.of("bench", "--soak", "3", "--threads", ","), "--threads ',' is not an integer");
    assertRefused(CliRun.of("bench", "--soak", "3", "--threads", "1,2"), "--threads '1,2' is not an integer");
    CliRun r = CliRun.of("bench", "--soak", "3", "--threads", "1");
    assertEquals("", r.err());
    assertTrue(r.out().contains("tensor memory growth"), r.out());
  }

  @Test
  void unknownFiltersAreNamedWithTheKnownValues() {
    assertRefused(CliRun.of("bench", "--op", "nope"),
        "unknown --op 'nope' (expected batch-norm, instance-norm, group-norm, layer-norm, weight-std, std-conv2d)");
    assertRefused(CliRun.of("bench", "--pass", "sideways"),
        "unknown --pass 'sideways' (expected forward-training, forward-inference, backward)");
    CliRun layout = CliRun.of("bench", "--layout", "nwhc");
    assertRefused(layout, "unknown --layout 'nwhc' (expected nchw, nhwc)");
    assertTrue(layout.err().contains("nwhc"));
  }
}
