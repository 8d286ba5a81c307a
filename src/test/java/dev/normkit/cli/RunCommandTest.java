package dev.normkit.cli;

import static dev.normkit.cli.NpyTest.f32;
import static dev.normkit.cli.NpyTest.f64;
import static dev.normkit.cli.NpyTest.file;
import static dev.normkit.cli.NpyTest.header;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.normkit.Backend;
import dev.normkit.Functional;
import dev.normkit.Layout;
import dev.normkit.Shape;
import dev.normkit.Tensor;
import dev.normkit.WsVariant;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@code normkit run} in-process ({@link Main#run}) on temporary files: results equal {@link Functional}'s computed
 * directly with the same backend and layout (bit for bit: the same kernels on the same data), and every invalid input
 * exits 2 with exactly one {@code error:} line and writes no file.
 */
class RunCommandTest {
  private static final Shape X = Shape.of(4, 3, 5, 5);

  @TempDir Path dir;

  @BeforeEach
  void writeInputs() throws IOException {
    save("x.npy", X, 1, 0.5, 2);
    save("dy.npy", X, 2, 0, 1);
    save("w.npy", Shape.of(3), 3, 1, 0.3);
    save("b.npy", Shape.of(3), 4, 0, 0.5);
    save("rm.npy", Shape.of(3), 5, 0, 0.5);
    save("rv.npy", Shape.of(3), 6, 1, 0.2);
    save("w4.npy", Shape.of(4), 7, 1, 0.3);
    save("ln_w.npy", Shape.of(5, 5), 8, 1, 0.3);
    save("ln_b.npy", Shape.of(5, 5), 9, 0, 0.3);
    save("x6.npy", Shape.of(2, 6, 4, 4), 10, 0, 1);
    save("dy6.npy", Shape.of(2, 6, 4, 4), 11, 0, 1);
    save("w6.npy", Shape.of(6), 12, 1, 0.3);
    save("b6.npy", Shape.of(6), 13, 0, 0.3);
    save("filter.npy", Shape.of(4, 3, 3, 3), 14, 0, 0.1);
    save("dfilter.npy", Shape.of(4, 3, 3, 3), 15, 0, 1);
    save("vec.npy", Shape.of(5), 16, 0, 1);
    save("one.npy", Shape.of(1, 3), 17, 0, 1);
    save("x2.npy", Shape.of(2, 3), 18, 0, 1);
    save("k1.npy", Shape.of(4, 1), 19, 0, 1);
    Npy.write(dir.resolve("empty_huge.npy"), new NpyArray(new long[] {100_000, 100_000, 0}, new float[0]));
    Npy.write(dir.resolve("rank6.npy"), new NpyArray(new long[] {1, 1, 1, 1, 2, 3}, new float[6]));
    double[] doubles = new double[(int) X.elementCount()];
    for (int i = 0; i < doubles.length; i++) doubles[i] = Math.sin(i) * 1.000000001;
    Files.write(dir.resolve("x64.npy"), file(1, header("<f8", "(4, 3, 5, 5)"), f64(doubles)));
    Files.write(dir.resolve("huge64.npy"), file(1, header("<f8", "(1, 2)"), f64(new double[] {1, 1e39})));
    Files.write(dir.resolve("int.npy"), file(1, header("<i4", "(4, 3)"), new byte[48]));
    Files.write(dir.resolve("be.npy"), file(1, header(">f4", "(4, 3)"), new byte[48]));
    Files.write(dir.resolve("fortran.npy"),
        file(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (4, 3), }", f32(new float[12])));
    Files.writeString(dir.resolve("garbage.npy"), "this is not a numpy file at all");
    Files.createDirectory(dir.resolve("subdir"));
  }

  // --------------------------------------------------------------------------------------------------- success

  @Test
  void batchNormTrainingStartsRunningStatsFromPyTorchDefaultsAndWritesEveryOutput() throws IOException {
    CliRun r = cli("run batch-norm --input @x.npy --output @y.npy --weight @w.npy --bias @b.npy"
        + " --out-running-mean @rm_out.npy --out-running-var @rv_out.npy --grad-output @dy.npy --grad-input @dx.npy"
        + " --grad-weight @dw.npy --grad-bias @db.npy");
    assertSuccess(r);
    try (Tensor x = load("x.npy", Layout.CHANNELS_FIRST); Tensor dy = load("dy.npy", Layout.CHANNELS_FIRST);
        Tensor w = load("w.npy"); Tensor b = load("b.npy"); Tensor rm = Tensor.zeros(Shape.of(3));
        Tensor rv = Tensor.vector(1, 1, 1); Tensor y = like(x); Tensor mean = Tensor.zeros(Shape.of(3));
        Tensor var = Tensor.zeros(Shape.of(3)); Tensor dx = like(x); Tensor dw = like(w); Tensor db = like(b)) {
      Functional.batchNorm(Backend.NATIVE, x, rm, rv, w, b, true, 0.1, 1e-5, y, mean, var);
      Functional.batchNormBackward(Backend.NATIVE, x, dy, w, mean, var, true, 1e-5, dx, dw, db);
      assertFile("y.npy", y);
      assertFile("rm_out.npy", rm);
      assertFile("rv_out.npy", rv);
      assertFile("dx.npy", dx);
      assertFile("dw.npy", dw);
      assertFile("db.npy", db);
    }
  }

  @Test
  void batchNormEvalOnTheJavaBackendInChannelsLast() throws IOException {
    assertSuccess(cli("run batch-norm --backend java --layout nhwc --mode eval --input @x.npy --output @y.npy"
        + " --weight @w.npy --bias @b.npy --running-mean @rm.npy --running-var @rv.npy --grad-output @dy.npy"
        + " --grad-input @dx.npy --grad-bias @db.npy"));
    try (Tensor x = load("x.npy", Layout.CHANNELS_LAST); Tensor dy = load("dy.npy", Layout.CHANNELS_LAST);
        Tensor w = load("w.npy"); Tensor b = load("b.npy"); Tensor rm = load("rm.npy"); Tensor rv = load("rv.npy");
        Tensor y = like(x); Tensor dx = like(x); Tensor dw = like(w); Tensor db = like(b)) {
      Functional.batchNorm(Backend.JAVA, x, rm, rv, w, b, false, 0.1, 1e-5, y, null, null);
      Functional.batchNormBackward(Backend.JAVA, x, dy, w, rm, rv, false, 1e-5, dx, dw, db);
      assertFile("y.npy", y);
      assertFile("dx.npy", dx);
      assertFile("db.npy", db);
      assertTrue(Files.notExists(dir.resolve("dw.npy")));
    }
  }

  @Test
  void batchNormUpdatesGivenRunningStatsAndAcceptsFloat64Input() throws IOException {
    assertSuccess(cli("run batch-norm --input @x64.npy --output @y.npy --momentum 0.3 --eps 1e-3"
        + " --running-mean @rm.npy --running-var @rv.npy --out-running-mean @rm_out.npy --out-running-var @rv_out.npy"));
    try (Tensor x = load("x64.npy", Layout.CHANNELS_FIRST); Tensor rm = load("rm.npy"); Tensor rv = load("rv.npy");
        Tensor y = like(x)) {
      Functional.batchNorm(Backend.NATIVE, x, rm, rv, null, null, true, 0.3, 1e-3, y, null, null);
      assertFile("y.npy", y);
      assertFile("rm_out.npy", rm);
      assertFile("rv_out.npy", rv);
      assertEquals((float) (Math.sin(7) * 1.000000001), x.toArray()[7], "float64 rounded to nearest float32");
    }
  }

  @Test
  void layerNormOverTwoTrailingDims() throws IOException {
    assertSuccess(cli("run layer-norm --backend java --input @x.npy --output @y.npy --normalized-shape 5,5"
        + " --weight @ln_w.npy --bias @ln_b.npy --eps 1e-4 --grad-output @dy.npy --grad-input @dx.npy"
        + " --grad-weight @dw.npy --grad-bias @db.npy"));
    Shape normalized = Shape.of(5, 5), stats = Shape.of(12);
    try (Tensor x = load("x.npy", Layout.CHANNELS_FIRST); Tensor dy = load("dy.npy", Layout.CHANNELS_FIRST);
        Tensor w = load("ln_w.npy"); Tensor b = load("ln_b.npy"); Tensor y = like(x); Tensor dx = like(x);
        Tensor dw = like(w); Tensor db = like(b); Tensor mean = Tensor.zeros(stats); Tensor var = Tensor.zeros(stats)) {
      Functional.layerNorm(Backend.JAVA, x, normalized, w, b, 1e-4, y, mean, var);
      Functional.layerNormBackward(Backend.JAVA, x, dy, normalized, w, mean, var, 1e-4, dx, dw, db);
      assertFile("y.npy", y);
      assertFile("dx.npy", dx);
      assertFile("dw.npy", dw);
      assertFile("db.npy", db);
    }
  }

  @Test
  void groupNormInChannelsLast() throws IOException {
    assertSuccess(cli("run group-norm --backend java --layout nhwc --input @x6.npy --output @y.npy --groups 3"
        + " --weight @w6.npy --bias @b6.npy --grad-output @dy6.npy --grad-input @dx.npy --grad-weight @dw.npy"));
    Shape stats = Shape.of(2, 3);
    try (Tensor x = load("x6.npy", Layout.CHANNELS_LAST); Tensor dy = load("dy6.npy", Layout.CHANNELS_LAST);
        Tensor w = load("w6.npy"); Tensor b = load("b6.npy"); Tensor y = like(x); Tensor dx = like(x);
        Tensor dw = like(w); Tensor db = like(b); Tensor mean = Tensor.zeros(stats); Tensor var = Tensor.zeros(stats)) {
      Functional.groupNorm(Backend.JAVA, x, 3, w, b, 1e-5, y, mean, var);
      Functional.groupNormBackward(Backend.JAVA, x, dy, 3, w, mean, var, 1e-5, dx, dw, db);
      assertFile("y.npy", y);
      assertFile("dx.npy", dx);
      assertFile("dw.npy", dw);
    }
  }

  @Test
  void instanceNormTrainsRunningStatsAndEvalUsesThem() throws IOException {
    assertSuccess(cli("run instance-norm --backend java --input @x.npy --output @y.npy --running-mean @rm.npy"
        + " --running-var @rv.npy --out-running-mean @rm_out.npy --out-running-var @rv_out.npy --momentum 0.2"
        + " --grad-output @dy.npy --grad-input @dx.npy"));
    assertSuccess(cli("run instance-norm --backend java --mode eval --input @x.npy --output @y_eval.npy"
        + " --running-mean @rm.npy --running-var @rv.npy --weight @w.npy --bias @b.npy"
        + " --grad-output @dy.npy --grad-input @dx_eval.npy"));
    Shape stats = Shape.of(4, 3);
    try (Tensor x = load("x.npy", Layout.CHANNELS_FIRST); Tensor dy = load("dy.npy", Layout.CHANNELS_FIRST);
        Tensor w = load("w.npy"); Tensor b = load("b.npy"); Tensor rm = load("rm.npy"); Tensor rv = load("rv.npy");
        Tensor rm2 = load("rm.npy"); Tensor rv2 = load("rv.npy"); Tensor y = like(x); Tensor dx = like(x);
        Tensor mean = Tensor.zeros(stats); Tensor var = Tensor.zeros(stats)) {
      Functional.instanceNorm(Backend.JAVA, x, rm, rv, null, null, true, 0.2, 1e-5, y, mean, var);
      Functional.instanceNormBackward(Backend.JAVA, x, dy, null, mean, var, true, 1e-5, dx, null, null);
      assertFile("y.npy", y);
      assertFile("rm_out.npy", rm);
      assertFile("rv_out.npy", rv);
      assertFile("dx.npy", dx);
      Functional.instanceNorm(Backend.JAVA, x, rm2, rv2, w, b, false, 0.1, 1e-5, y, null, null);
      Functional.instanceNormBackward(Backend.JAVA, x, dy, w, rm2, rv2, false, 1e-5, dx, null, null);
      assertFile("y_eval.npy", y);
      assertFile("dx_eval.npy", dx);
    }
  }

  @ParameterizedTest
  @EnumSource(WsVariant.class)
  void weightStandardizationWithTheVariantsDefaultEps(WsVariant variant) throws IOException {
    assertSuccess(cli("run weight-std --backend java --variant " + variant.cliName() + " --input @filter.npy"
        + " --output @y.npy --grad-output @dfilter.npy --grad-input @dx.npy"));
    Shape perFilter = Shape.of(4);
    try (Tensor w = load("filter.npy", Layout.CHANNELS_FIRST); Tensor dy = load("dfilter.npy", Layout.CHANNELS_FIRST);
        Tensor y = like(w); Tensor dx = like(w); Tensor mean = Tensor.zeros(perFilter);
        Tensor rstd = Tensor.zeros(perFilter)) {
      double eps = variant.defaultEps();
      Functional.weightStandardize(Backend.JAVA, w, variant, eps, 1.0, null, y, mean, rstd);
      Functional.weightStandardizeBackward(Backend.JAVA, w, dy, variant, eps, 1.0, null, mean, rstd, dx, null);
      assertFile("y.npy", y);
      assertFile("dx.npy", dx);
    }
  }

  @Test
  void helpAndUsage() {
    CliRun help = cli("--help");
    assertEquals(0, help.code());
    assertTrue(help.out().contains("usage: normkit run OP [options]"), help.out());
    assertEquals("", help.err());
    CliRun runHelp = cli("run --help");
    assertEquals(0, runHelp.code());
    assertTrue(runHelp.out().contains("--normalized-shape"), runHelp.out());
    CliRun none = cli("");
    assertEquals(2, none.code());
    assertTrue(none.err().contains("usage:"), none.err());
  }

  @Test
  void failedRunLeavesAnExistingOutputUntouched() throws IOException {
    Files.writeString(dir.resolve("y.npy"), "keep me");
    CliRun r = cli("run batch-norm --input @x.npy --output @y.npy --weight @w.npy --bias @b.npy --eps 0");
    assertEquals(2, r.code(), r.err());
    assertEquals("keep me", Files.readString(dir.resolve("y.npy")));
  }

  /** The temporary file used to be the name plus 22 characters, beyond the 255-byte limit for names of 234 up. */
  @Test
  void anOutputNameOfUpTo255BytesIsWrittenAndReplacedAtomically() throws IOException {
    String name = "y".repeat(251) + ".npy";
    Files.writeString(dir.resolve(name), "keep me");
    assertEquals(2, cli("run batch-norm --input @x.npy --output @" + name + " --eps 0").code());
    assertEquals("keep me", Files.readString(dir.resolve(name)));
    assertSuccess(cli("run batch-norm --input @x.npy --output @" + name));
    assertArrayEquals(X.dims(), Npy.read(dir.resolve(name)).shape());
    assertTrue(listing().stream().noneMatch(f -> f.endsWith(".tmp")), "no temporary file left: " + listing());
  }

  /** A name the file system refuses is an input error found before any work, not a failure to move an output. */
  @Test
  void anOutputNameTooLongForTheFileSystemIsRefusedBeforeAnyWork() throws IOException {
    List<String> before = listing();
    Path tooLong = dir.resolve("y".repeat(252) + ".npy");
    CliRun r = cli("run batch-norm --input @x.npy --output @y.npy --grad-output @dy.npy --grad-input @"
        + tooLong.getFileName());
    assertEquals(2, r.code(), r.err());
    assertEquals("error: --grad-input " + tooLong + ": File name too long", r.err().strip());
    assertEquals(before, listing(), "no file written, not even --output");
  }

  /** Path.of drops a trailing "/": --output z.npy/ was written as z.npy. It names a directory, so it is refused. */
  @ParameterizedTest
  @ValueSource(strings = {"z.npy/", "z.npy/.", "subdir/..", "subdir/"})
  void anOutputNameEndingInASlashIsRefused(String name) throws IOException {
    List<String> before = listing();
    String output = dir + "/" + name;
    CliRun r = CliRun.of("run", "batch-norm", "--input", dir.resolve("x.npy").toString(), "--output", output);
    assertEquals(2, r.code(), r.err());
    assertEquals("error: --output '" + output + "' names a directory, not a file", r.err().strip());
    assertEquals(before, listing(), "no file written");
  }

  // ------------------------------------------------------------------------------------------------- bad input

  static Stream<String> badInput() {
    String bn = "run batch-norm --input @x.npy --output @y.npy ";
    String grads = " --grad-output @dy.npy --grad-input @dx.npy ";
    return Stream.of(
        "frobnicate",
        "run",
        "run batchnorm --input @x.npy --output @y.npy",
        bn + "--foo 1",
        bn + "--groups 2",
        bn + "--variant seed",
        bn + "--eps",
        "run batch-norm --input --output @y.npy",
        bn + "--eps 1e-5 --eps 1e-3",
        "run batch-norm @x.npy --output @y.npy",
        "run batch-norm --output @y.npy",
        "run batch-norm --input @x.npy",
        "run batch-norm --input @nope.npy --output @y.npy",
        "run batch-norm --input @subdir --output @y.npy",
        "run batch-norm --input= --output @y.npy",
        "run batch-norm --input @garbage.npy --output @y.npy",
        "run batch-norm --input @int.npy --output @y.npy",
        "run batch-norm --input @be.npy --output @y.npy",
        "run batch-norm --input @fortran.npy --output @y.npy",
        "run batch-norm --input @huge64.npy --output @y.npy",
        "run batch-norm --input @vec.npy --output @y.npy",
        "run batch-norm --input @rank6.npy --output @y.npy",
        "run batch-norm --input @one.npy --output @y.npy",
        bn + "--weight @w4.npy --bias @w4.npy",
        bn + "--weight @w.npy",
        bn + "--bias @b.npy",
        bn + "--eps 0",
        bn + "--eps -1",
        bn + "--eps abc",
        bn + "--eps NaN",
        bn + "--eps Infinity",
        bn + "--momentum 1.5",
        bn + "--momentum -0.1",
        bn + "--momentum x",
        bn + grads + "--grad-weight @dw.npy",
        bn + "--grad-output @dy.npy",
        bn + "--grad-input @dx.npy",
        bn + "--weight @w.npy --bias @b.npy --grad-bias @db.npy",
        bn + "--grad-output @x6.npy --grad-input @dx.npy",
        bn + "--mode eval",
        bn + "--mode training",
        bn + "--running-mean @w4.npy --running-var @w4.npy",
        bn + "--running-mean @rm.npy",
        bn + "--out-running-mean @rm_out.npy",
        bn + "--layout nchwc",
        bn + "--backend cuda",
        bn + "--output @y2.npy",
        "run batch-norm --input @x.npy --output @missing/y.npy",
        "run batch-norm --input @x.npy --output @subdir",
        "run batch-norm --input @x.npy --output @y.npy" + grads.replace("@dx.npy", "@y.npy"),
        "run batch-norm --input @x.npy --output @x.npy --out-running-mean @x.npy --out-running-var @rv_out.npy",
        "run layer-norm --input @x.npy --output @y.npy",
        "run layer-norm --input @x.npy --output @y.npy --normalized-shape 3,5",
        "run layer-norm --input @x.npy --output @y.npy --normalized-shape a,b",
        "run layer-norm --input @x.npy --output @y.npy --normalized-shape 5,5 --weight @w.npy --bias @b.npy",
        "run group-norm --input @x.npy --output @y.npy",
        "run group-norm --input @x.npy --output @y.npy --groups 2",
        "run group-norm --input @x.npy --output @y.npy --groups 0",
        "run group-norm --input @x.npy --output @y.npy --groups three",
        "run group-norm --input @x.npy --output @y.npy --groups 2000000000",
        "run instance-norm --input @empty_huge.npy --output @y.npy --backend java",
        "run group-norm --input @x.npy --output @y.npy --groups 3 --mode eval",
        "run instance-norm --input @x.npy --output @y.npy --mode eval",
        "run instance-norm --input @x2.npy --output @y.npy",
        "run weight-std --input @filter.npy --output @y.npy --variant wide",
        "run weight-std --input @filter.npy --output @y.npy --weight @w.npy --bias @b.npy",
        "run weight-std --input @vec.npy --output @y.npy",
        "run weight-std --input @k1.npy --output @y.npy --variant seed",
        "run weight-std --input @filter.npy --output @y.npy --eps -1");
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("badInput")
  void invalidInputExits2WithOneErrorLineAndWritesNothing(String args) throws IOException {
    List<String> before = listing();
    CliRun r = cli(args);
    assertEquals(2, r.code(), args + "\nstderr: " + r.err());
    String[] lines = r.err().split("\n", -1);
    assertEquals(2, lines.length, "exactly one line, ending in a newline: " + r.err());
    assertTrue(lines[0].startsWith("error: ") && lines[0].length() > 12, r.err());
    assertEquals("", lines[1]);
    assertEquals("", r.out());
    assertEquals(before, listing(), "no file written or left behind");
  }

  // ---------------------------------------------------------------------------------------------------- helpers

  /** Runs the tool in-process; "@name" in the arguments is a file in the temporary directory. */
  private CliRun cli(String args) {
    List<String> list = new ArrayList<>();
    for (String a : args.trim().split("\\s+")) {
      if (a.isEmpty()) continue;
      int at = a.indexOf('@');
      list.add(at < 0 ? a : a.substring(0, at) + dir.resolve(a.substring(at + 1)));
    }
    return CliRun.of(list.toArray(new String[0]));
  }

  private static void assertSuccess(CliRun r) {
    assertEquals(0, r.code(), "stderr: " + r.err());
    assertEquals("", r.err());
  }

  /** The file holds exactly the tensor's logical contents and shape. */
  private void assertFile(String name, Tensor expected) throws IOException {
    NpyArray a = Npy.read(dir.resolve(name));
    assertArrayEquals(expected.shape().dims(), a.shape(), name);
    assertArrayEquals(expected.toArray(), a.data(), name);
  }

  private void save(String name, Shape shape, long seed, double mean, double std) throws IOException {
    SplittableRandom r = new SplittableRandom(seed);
    float[] a = new float[(int) shape.elementCount()];
    for (int i = 0; i < a.length; i++) a[i] = (float) (mean + std * (r.nextDouble() * 2 - 1) * 1.7);
    Npy.write(dir.resolve(name), new NpyArray(shape.dims(), a));
  }

  private Tensor load(String name, Layout layout) throws IOException {
    NpyArray a = Npy.read(dir.resolve(name));
    return Tensor.of(a.data(), a.toShape(), layout);
  }

  private Tensor load(String name) throws IOException {
    return load(name, Layout.CHANNELS_FIRST);
  }

  private static Tensor like(Tensor t) {
    return Tensor.zeros(t.shape(), t.layout());
  }

  private List<String> listing() throws IOException {
    try (Stream<Path> s = Files.walk(dir)) {
      return s.map(p -> dir.relativize(p).toString()).sorted().collect(Collectors.toList());
    }
  }
}
