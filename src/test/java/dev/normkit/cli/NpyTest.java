package dev.normkit.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class NpyTest {
  @TempDir Path dir;

  // ------------------------------------------------------------------------------------------------ round trips

  @Test
  void roundTripsEveryRankThroughAFile() throws IOException {
    long[][] shapes = {{7}, {2, 3}, {2, 3, 4}, {1, 2, 3, 4}, {2, 1, 3, 1, 2}, {0}, {3, 0, 2}};
    for (long[] shape : shapes) {
      float[] data = values(1, (int) Npy.elementCount(shape));
      Path f = dir.resolve("a.npy");
      Npy.write(f, new NpyArray(shape, data));
      NpyArray back = Npy.read(f);
      assertArrayEquals(shape, back.shape(), Npy.pythonTuple(shape));
      assertArrayEquals(data, back.data(), Npy.pythonTuple(shape));
      assertEquals(0, (Files.size(f) - data.length * 4L) % 64, "header padded to a multiple of 64 bytes");
    }
  }

  @Test
  void keepsSpecialValuesBitForBit() {
    float[] data = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, -0f, Float.MIN_VALUE, Float.MAX_VALUE};
    NpyArray back = Npy.read(Npy.encode(new NpyArray(new long[] {6}, data)));
    for (int i = 0; i < data.length; i++) {
      assertEquals(Float.floatToRawIntBits(data[i]), Float.floatToRawIntBits(back.data()[i]), "element " + i);
    }
  }

  /** The golden files were written by numpy's np.save; encoding what we read must give back the same bytes. */
  @Test
  void writesExactlyWhatNumpyWrites() throws IOException {
    for (String file : new String[] {"bn_train_4d_affine_running/in_x.npy", "bn_train_4d_affine_running/in_weight.npy",
        "bn_train_5d_affine/out_y.npy", "ln_2d_input/in_x.npy"}) {
      byte[] numpy = resource("/golden/" + file);
      assertArrayEquals(numpy, Npy.encode(Npy.read(numpy)), file);
    }
  }

  @Test
  void readsFloat64RoundingToNearestFloat32() {
    double[] values = {0.1, -1.0 / 3, 1e-40, 3.4028235e38, Double.NaN, Double.NEGATIVE_INFINITY};
    NpyArray a = Npy.read(file(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", f64(values)));
    assertArrayEquals(new long[] {2, 3}, a.shape());
    for (int i = 0; i < values.length; i++) assertEquals((float) values[i], a.data()[i], 0, "element " + i);
  }

  @Test
  void rejectsFloat64BeyondFloat32Range() {
    rejects(file(1, header("<f8", "(2,)"), f64(new double[] {1, 1e300})), "does not fit float32");
  }

  @Test
  void readsVersions2And3AndHeaderVariants() {
    byte[] data = f32(new float[] {1, 2, 3, 4, 5, 6});
    String[] headers = {
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
      "{\"descr\":\"f4\",\"shape\":(2,3),\"fortran_order\":False}",
      "{'shape': (2L, 3L), 'fortran_order': False, 'descr': '|f4'}",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }",
    };
    for (int version = 1; version <= 3; version++) {
      for (String h : headers) {
        NpyArray a = Npy.read(file(version, h, data));
        assertEquals(6, a.data().length, h);
        assertEquals(6f, a.data()[5], h);
      }
    }
  }

  // ---------------------------------------------------------------------------------------------- malformed files

  static Stream<Arguments> malformed() {
    byte[] six = f32(new float[6]);
    byte[] valid = file(1, header("<f4", "(2, 3)"), six);
    byte[] badMagic = valid.clone();
    badMagic[1] = 'M';
    byte[] hugeHeader = valid.clone();
    ByteBuffer.wrap(hugeHeader).order(ByteOrder.LITTLE_ENDIAN).putShort(8, (short) 0xffff);
    byte[] absurdV2 = file(2, header("<f4", "(2, 3)"), six);
    ByteBuffer.wrap(absurdV2).order(ByteOrder.LITTLE_ENDIAN).putInt(8, 0x7fffffff);
    byte[] badUtf8 = file(3, header("<f4", "(2, 3)"), six);
    badUtf8[20] = (byte) 0xff;
    byte[] version4 = valid.clone();
    version4[6] = 4;
    return Stream.of(
        Arguments.of("empty file", new byte[0], "truncated header"),
        Arguments.of("magic only", new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1}, "truncated header"),
        Arguments.of("wrong magic", badMagic, "wrong magic"),
        Arguments.of("a text file", "hello, world, this is not numpy".getBytes(StandardCharsets.US_ASCII),
            "wrong magic"),
        Arguments.of("version 4.0", version4, "unsupported .npy format version 4.0"),
        Arguments.of("header length past the end", hugeHeader, "truncated header"),
        Arguments.of("absurd header length", absurdV2, "absurd header length"),
        Arguments.of("header not UTF-8 in 3.0", badUtf8, "not valid UTF-8"),
        Arguments.of("truncated data", java.util.Arrays.copyOf(valid, valid.length - 1), "truncated data"),
        Arguments.of("trailing data", java.util.Arrays.copyOf(valid, valid.length + 4), "trailing data"),
        Arguments.of("big-endian", file(1, header(">f4", "(2, 3)"), six), "big-endian"),
        Arguments.of("Fortran order",
            file(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", six), "fortran_order: True"),
        Arguments.of("int32", file(1, header("<i4", "(2, 3)"), six), "(integer)"),
        Arguments.of("uint8", file(1, header("|u1", "(24,)"), new byte[24]), "(integer)"),
        Arguments.of("int64", file(1, header("<i8", "(3,)"), new byte[24]), "(integer)"),
        Arguments.of("bool", file(1, header("|b1", "(24,)"), new byte[24]), "(bool)"),
        Arguments.of("complex64", file(1, header("<c8", "(3,)"), new byte[24]), "(complex)"),
        Arguments.of("float16", file(1, header("<f2", "(12,)"), new byte[24]), "unsupported dtype '<f2'"),
        Arguments.of("object", file(1, header("|O", "(3,)"), new byte[24]), "unsupported dtype '|O'"),
        Arguments.of("structured dtype",
            file(1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (6,), }", six), "structured"),
        Arguments.of("0-d array", file(1, header("<f4", "()"), f32(new float[1])), "0-d array"),
        Arguments.of("shape larger than data", file(1, header("<f4", "(2, 4)"), six), "truncated data"),
        Arguments.of("shape smaller than data", file(1, header("<f4", "(5,)"), six), "trailing data"),
        Arguments.of("element count overflow",
            file(1, header("<f4", "(4294967296, 4294967296, 4294967296)"), six), "overflows"),
        Arguments.of("more elements than an array", file(1, header("<f4", "(3000000000,)"), six), "more than"),
        Arguments.of("negative dimension", file(1, header("<f4", "(-6,)"), six), "non-negative integer"),
        Arguments.of("dimension too long", file(1, header("<f4", "(1234567890123456789012,)"), six), "too large"),
        Arguments.of("missing key", file(1, "{'descr': '<f4', 'shape': (6,), }", six), "missing key 'fortran_order'"),
        Arguments.of("extra key",
            file(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), 'x': 1}", six), "malformed header"),
        Arguments.of("duplicate key",
            file(1, "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (6,)}", six), "duplicate"),
        Arguments.of("shape not a tuple",
            file(1, "{'descr': '<f4', 'fortran_order': False, 'shape': '6', }", six), "shape must be a tuple"),
        Arguments.of("fortran_order not a bool",
            file(1, "{'descr': '<f4', 'fortran_order': '0', 'shape': (6,), }", six), "True or False"),
        Arguments.of("not a dict", file(1, "['descr', '<f4']", six), "malformed header"),
        Arguments.of("unterminated string",
            file(1, "{'descr: '<f4', 'fortran_order': False, 'shape': (6,), }", six), "malformed header"),
        Arguments.of("text after the dict",
            file(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), } extra", six), "after the dict"),
        Arguments.of("empty header", file(1, "", six), "malformed header"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("malformed")
  void rejectsMalformedFileNamingTheProblem(String what, byte[] bytes, String message) throws IOException {
    rejects(bytes, message);
    Path f = dir.resolve("bad.npy");
    Files.write(f, bytes);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Npy.read(f), what);
    assertTrue(e.getMessage().contains(message), what + ": from a file: " + e.getMessage());
  }

  /**
   * Random corruptions of valid files (seeded): byte flips, header characters replaced by header-like ones,
   * truncations and insertions. Reading must either give a consistent array or throw IllegalArgumentException;
   * nothing else (no IndexOutOfBounds, NegativeArraySize, OutOfMemoryError, ...).
   */
  @Test
  void corruptedFilesOnlyEverGiveIllegalArgumentOrAConsistentArray() {
    List<byte[]> valid = List.of(
        Npy.encode(new NpyArray(new long[] {2, 3}, values(2, 6))),
        Npy.encode(new NpyArray(new long[] {1, 2, 3, 2}, values(3, 12))),
        Npy.encode(new NpyArray(new long[] {5}, values(4, 5))),
        file(1, header("<f8", "(2, 2)"), f64(new double[] {1, 2, 3, 4})),
        file(2, header("<f4", "(3, 1)"), f32(values(5, 3))),
        file(3, header("<f4", "(2,)"), f32(values(6, 2))));
    long seed = 20240611;
    SplittableRandom random = new SplittableRandom(seed);
    int accepted = 0, rejected = 0;
    for (int trial = 0; trial < 30_000; trial++) {
      byte[] bytes = mutate(valid.get(random.nextInt(valid.size())), random);
      try {
        NpyArray a = Npy.read(bytes);
        assertEquals(Npy.elementCount(a.shape()), a.data().length, "trial " + trial);
        accepted++;
      } catch (IllegalArgumentException e) {
        assertFalse(e.getMessage() == null || e.getMessage().isEmpty(), "trial " + trial + ": empty message");
        rejected++;
      } catch (RuntimeException | Error e) {
        fail("seed " + seed + " trial " + trial + ": " + e + " for bytes " + java.util.Arrays.toString(bytes), e);
      }
    }
    assertTrue(accepted > 100 && rejected > 10_000, "accepted " + accepted + ", rejected " + rejected);
  }

  private static byte[] mutate(byte[] valid, SplittableRandom r) {
    byte[] b = valid.clone();
    String headerChars = "{}()[],:' \"\n0123456789LTrueFalsdescrfortan_ordershape<>|f48icb?";
    switch (r.nextInt(5)) {
      case 0: // flip a few random bits anywhere
        for (int k = 1 + r.nextInt(3); k > 0; k--) b[r.nextInt(b.length)] ^= (byte) (1 << r.nextInt(8));
        return b;
      case 1: // replace header characters with header-like ones
        for (int k = 1 + r.nextInt(3); k > 0; k--) {
          b[10 + r.nextInt(Math.min(70, b.length - 10))] = (byte) headerChars.charAt(r.nextInt(headerChars.length()));
        }
        return b;
      case 2: // truncate
        return java.util.Arrays.copyOf(b, r.nextInt(b.length));
      case 3: // insert random bytes
        int at = r.nextInt(b.length + 1), n = 1 + r.nextInt(8);
        byte[] longer = new byte[b.length + n];
        System.arraycopy(b, 0, longer, 0, at);
        for (int i = 0; i < n; i++) longer[at + i] = (byte) r.nextInt(256);
        System.arraycopy(b, at, longer, at + n, b.length - at);
        return longer;
      default: // a random header length
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putShort(8, (short) r.nextInt(1 << 16));
        return b;
    }
  }

  // ---------------------------------------------------------------------------------------------- atomic writes

  @Test
  void writeReplacesAnExistingFileAndLeavesNoTemporary() throws IOException {
    Path f = dir.resolve("out.npy");
    Files.writeString(f, "old");
    Npy.write(f, new NpyArray(new long[] {2}, new float[] {1, 2}));
    assertArrayEquals(new float[] {1, 2}, Npy.read(f).data());
    assertEquals(List.of("out.npy"), listing());
  }

  @Test
  void stagedFileIsInvisibleUntilCommittedAndRemovedWhenNot() throws IOException {
    Path f = dir.resolve("out.npy");
    try (Npy.Staged s = Npy.stage(f, new NpyArray(new long[] {1}, new float[] {3}))) {
      assertFalse(Files.exists(f));
      assertEquals(1, listing().size(), "one temporary file");
    }
    assertEquals(List.of(), listing(), "closed without commit: nothing left");
  }

  @Test
  void failedWriteLeavesNothing() throws IOException {
    Path missing = dir.resolve("no-such-dir").resolve("out.npy");
    assertThrows(NoSuchFileException.class, () -> Npy.write(missing, new NpyArray(new long[] {1}, new float[1])));
    Files.createDirectory(dir.resolve("d.npy"));
    assertThrows(IllegalArgumentException.class,
        () -> Npy.write(dir.resolve("d.npy"), new NpyArray(new long[] {1}, new float[1])));
    assertEquals(List.of("d.npy"), listing());
  }

  @Test
  void arrayRejectsDataThatDoesNotFitItsShape() {
    assertThrows(IllegalArgumentException.class, () -> new NpyArray(new long[] {2, 3}, new float[5]));
    assertThrows(IllegalArgumentException.class, () -> new NpyArray(new long[] {}, new float[1]));
    assertThrows(IllegalArgumentException.class, () -> new NpyArray(new long[] {0, -1}, new float[0]));
  }

  // ------------------------------------------------------------------------------------------------ helpers

  private List<String> listing() throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      return s.map(p -> p.getFileName().toString()).sorted().collect(Collectors.toList());
    }
  }

  private static void rejects(byte[] bytes, String message) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Npy.read(bytes));
    assertTrue(e.getMessage().contains(message), "message '" + e.getMessage() + "' should contain '" + message + "'");
  }

  static String header(String descr, String shape) {
    return "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  }

  /** A .npy file of the given version with {@code dict} (padded to 64 bytes with spaces and '\n') and data. */
  static byte[] file(int version, String dict, byte[] data) {
    int lengthBytes = version == 1 ? 2 : 4;
    StringBuilder h = new StringBuilder(dict);
    while ((8 + lengthBytes + h.length() + 1) % 64 != 0) h.append(' ');
    h.append('\n');
    byte[] header = h.toString().getBytes(version == 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1);
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.writeBytes(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', (byte) version, 0});
    ByteBuffer len = ByteBuffer.allocate(lengthBytes).order(ByteOrder.LITTLE_ENDIAN);
    if (version == 1) len.putShort((short) header.length);
    else len.putInt(header.length);
    out.writeBytes(len.array());
    out.writeBytes(header);
    out.writeBytes(data);
    return out.toByteArray();
  }

  static byte[] f32(float[] v) {
    ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
    for (float x : v) b.putFloat(x);
    return b.array();
  }

  static byte[] f64(double[] v) {
    ByteBuffer b = ByteBuffer.allocate(8 * v.length).order(ByteOrder.LITTLE_ENDIAN);
    for (double x : v) b.putDouble(x);
    return b.array();
  }

  static float[] values(long seed, int n) {
    SplittableRandom r = new SplittableRandom(seed);
    float[] a = new float[n];
    for (int i = 0; i < n; i++) a[i] = (float) (r.nextDouble() * 4 - 2);
    return a;
  }

  private static byte[] resource(String name) throws IOException {
    try (InputStream in = NpyTest.class.getResourceAsStream(name)) {
      if (in == null) throw new IllegalStateException("missing resource " + name);
      return in.readAllBytes();
    }
  }
}
