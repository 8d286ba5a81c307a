package dev.normkit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** {@code normkit train} in-process: help, a tiny run with JSON and plot, and bad options (exit 2, one error line). */
class TrainCommandTest {
  @TempDir Path dir;

  @Test
  void helpAndUsageListTrain() {
    CliRun help = CliRun.of("train", "--help");
    assertEquals(0, help.code());
    assertTrue(help.out().contains("--sweep"), help.out());
    assertTrue(Main.USAGE.contains("normkit.jar train"));
  }

  @Test
  void tinyRunWritesJsonAndPlot() throws Exception {
    Path json = dir.resolve("r.json"), png = dir.resolve("p.png");
    CliRun r = CliRun.of("train", "--norm", "bn,gnws", "--batch-size", "16,4", "--train-images", "64", "--test-images",
        "100", "--threads", "1", "--json", json.toString(), "--plot", png.toString());
    assertEquals(0, r.code(), r.err());
    String text = Files.readString(json);
    assertEquals(4, text.split("\"norm\"").length - 1, text);
    assertTrue(text.contains("\"batch_size\": 4") && text.contains("\"test_accuracy\""), text);
    assertTrue(r.out().contains("| GN+WS |"), r.out());
    assertTrue(Files.size(png) > 1000);
  }

  @ParameterizedTest
  @ValueSource(strings = {
    "--norm=xx", "--batch-size=0", "--batch-size=4,x", "--epochs=0", "--lr=-1", "--lr=abc", "--threads=0", "--threads=100000",
    "--bogus=1", "--data=/nonexistent", "--train-images=0", "--seed=x", "--norm"
  })
  void badOptionsExitTwoWithOneErrorLine(String option) {
    CliRun r = CliRun.of("train", option, "--train-images", "64", "--test-images", "100");
    if (option.startsWith("--train-images")) r = CliRun.of("train", option);
    assertEquals(2, r.code(), option + ": " + r.out() + r.err());
    assertTrue(r.err().startsWith("error: "), r.err());
    assertEquals(1, r.err().strip().lines().count(), r.err());
  }

  /** Checked before loading data or training: a sweep used to run for minutes, then fail with an internal error. */
  @Test
  void outputFilesAreCheckedBeforeTraining() {
    Path missing = dir.resolve("missing").resolve("r.json");
    CliRun r = CliRun.of("train", "--json", missing.toString(), "--train-images", "64", "--test-images", "100");
    assertEquals(2, r.code(), r.err());
    assertEquals("error: --json " + missing + ": directory " + missing.getParent() + " does not exist", r.err().strip());
    assertEquals("", r.out());
    r = CliRun.of("train", "--plot", dir.toString(), "--train-images", "64", "--test-images", "100");
    assertEquals(2, r.code(), r.err());
    assertEquals("error: --plot " + dir + ": is a directory", r.err().strip());
    Path same = dir.resolve("same");
    r = CliRun.of("train", "--json", same.toString(), "--plot", same.toString(), "--train-images", "64");
    assertEquals(2, r.code(), r.err());
    assertEquals("error: --json and --plot name the same file " + same, r.err().strip());
    r = CliRun.of("train", "--plot", same + "/", "--train-images", "64");
    assertEquals(2, r.code(), r.err());
    assertEquals("error: --plot '" + same + "/' names a directory, not a file", r.err().strip());
    assertTrue(Files.notExists(same));
  }

  /** ",".split(",") is empty: "--norm ," trained nothing, "--batch-size ," failed after writing the JSON. */
  @ParameterizedTest
  @ValueSource(strings = {"--norm=,", "--norm= , ", "--norm=", "--batch-size=,", "--norm=bn,", "--batch-size=,4"})
  void aListNamingNoValueOrWithAnEmptyItemIsRefusedBeforeTraining(String option) {
    Path json = dir.resolve("e.json"), png = dir.resolve("e.png");
    CliRun r = CliRun.of("train", option, "--train-images", "4", "--test-images", "4", "--json", json.toString(),
        "--plot", png.toString());
    int eq = option.indexOf('=');
    String name = option.substring(0, eq), value = option.substring(eq + 1);
    assertEquals(2, r.code(), r.out() + r.err());
    assertEquals("", r.out());
    assertEquals("error: " + name + " '" + value + "' "
        + (value.replace(",", "").isBlank() ? "names no value" : "has an empty item"), r.err().strip());
    assertTrue(Files.notExists(json) && Files.notExists(png), "nothing written");
  }

  /** Files in --data that are not Fashion-MNIST's are the user's input: exit 2 naming the file, not exit 1. */
  @Test
  void dataFilesThatAreNotGzipIdxAreInputErrors() throws Exception {
    Path data = Files.createDirectory(dir.resolve("data")), json = dir.resolve("r.json");
    for (String part : new String[] {"train", "t10k"}) {
      Files.writeString(data.resolve(part + "-images-idx3-ubyte.gz"), "x\n");
      Files.writeString(data.resolve(part + "-labels-idx1-ubyte.gz"), "x\n");
    }
    String[] args = {"train", "--data", data.toString(), "--train-images", "4", "--test-images", "4", "--batch-size",
        "2", "--json", json.toString()};
    assertDataRefused(CliRun.of(args), data + ": train-images-idx3-ubyte.gz: not valid gzip (Not in GZIP format)");
    // a valid header announcing 10 images of which only one row follows
    ByteBuffer truncated = ByteBuffer.allocate(16 + 28).putInt(0x803).putInt(10).putInt(28).putInt(28);
    try (OutputStream out = new GZIPOutputStream(Files.newOutputStream(data.resolve("train-images-idx3-ubyte.gz")))) {
      out.write(truncated.array());
    }
    assertDataRefused(CliRun.of(args), data + ": train-images-idx3-ubyte.gz: truncated");
    assertTrue(Files.notExists(json), "nothing written");
  }

  private static void assertDataRefused(CliRun r, String message) {
    assertEquals(2, r.code(), r.out() + r.err());
    assertEquals("", r.out(), "refused before training");
    assertEquals("error: --data " + message, r.err().strip());
    assertEquals(1, r.err().strip().lines().count(), r.err());
  }

  @Test
  void aSeedThatIsNotAnIntegerIsNamed() {
    CliRun r = CliRun.of("train", "--seed", "abc", "--train-images", "64", "--test-images", "100");
    assertEquals(2, r.code());
    assertEquals("error: --seed 'abc' is not an integer", r.err().strip());
  }

  @Test
  void batchLargerThanTheDataIsAnError() {
    CliRun r = CliRun.of("train", "--batch-size", "128", "--train-images", "64", "--test-images", "100");
    assertEquals(2, r.code());
    assertTrue(r.err().contains("exceeds"), r.err());
  }
}
