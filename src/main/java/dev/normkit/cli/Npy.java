package dev.normkit.cli;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.StringJoiner;
import java.util.concurrent.ThreadLocalRandom;

/**
 * NumPy's {@code .npy} format (format versions 1.0, 2.0 and 3.0), restricted to what normkit exchanges: little-endian
 * float32 ({@code <f4}) and float64 ({@code <f8}, converted to float32 on reading) arrays in C order, rank &gt;= 1.
 *
 * <p>The file is {@code \x93NUMPY}, a major and a minor version byte, the header length (2 bytes little-endian in
 * 1.0, 4 bytes in 2.0 and 3.0), the header (a Python dict literal {@code {'descr': '<f4', 'fortran_order': False,
 * 'shape': (2, 3), }} padded with spaces and ending in a newline; latin-1, UTF-8 in 3.0), then the raw data.
 *
 * <p>Reading is defensive: any file that is not such an array (wrong magic, truncated header or data, trailing
 * bytes, big-endian, Fortran order, a non-float dtype, a 0-d array, a malformed header) is rejected with an
 * {@link IllegalArgumentException} saying what is wrong, and nothing larger than the file itself is ever allocated.
 * Writing produces version 1.0 float32 files through a temporary file in the target's directory that is moved into
 * place, so that a failed write never leaves a partial file under the target name.
 */
public final class Npy {
  private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
  /** Headers are a few dozen bytes; numpy itself refuses more than 10000 by default. Beyond this: absurd. */
  static final int MAX_HEADER_BYTES = 1 << 16;
  /** numpy 1.x's NPY_MAXDIMS; numpy 2 allows 64, normkit's tensors 5. */
  static final int MAX_RANK = 64;
  /** The largest Java array normkit reads into. */
  static final long MAX_ELEMENTS = Integer.MAX_VALUE - 8;
  /** The data alignment of written headers (the spec asks for 64 since numpy 1.18). */
  private static final int ALIGNMENT = 64;
  private static final int CHUNK_BYTES = 1 << 20;

  private Npy() {}

  // --------------------------------------------------------------------------------------------------- reading

  /** Reads a float32 or float64 {@code .npy} file; {@link IllegalArgumentException} if it is not one. */
  public static NpyArray read(Path file) throws IOException {
    try (FileChannel in = FileChannel.open(file, StandardOpenOption.READ)) {
      return read(in, in.size());
    }
  }

  /** Reads a {@code .npy} file's bytes; {@link IllegalArgumentException} if they are not a float array. */
  public static NpyArray read(byte[] bytes) {
    try {
      return read(Channels.newChannel(new ByteArrayInputStream(bytes)), bytes.length);
    } catch (IOException e) {
      throw new UncheckedIOException(e); // cannot happen for an in-memory stream
    }
  }

  private static NpyArray read(ReadableByteChannel in, long size) throws IOException {
    if (size < MAGIC.length + 2) {
      throw new IllegalArgumentException("truncated header: the file has " + size + " bytes, too few for a .npy file");
    }
    ByteBuffer preamble = readFully(in, MAGIC.length + 2, "magic and version");
    for (byte b : MAGIC) {
      if (preamble.get() != b) throw new IllegalArgumentException("not a .npy file: wrong magic bytes");
    }
    int major = preamble.get() & 0xff, minor = preamble.get() & 0xff;
    if (major < 1 || major > 3 || minor != 0) {
      throw new IllegalArgumentException("unsupported .npy format version " + major + "." + minor
          + " (expected 1.0, 2.0 or 3.0)");
    }
    int lengthBytes = major == 1 ? 2 : 4;
    long preambleLength = MAGIC.length + 2 + lengthBytes;
    if (size < preambleLength) {
      throw new IllegalArgumentException("truncated header: the file ends inside the header length field");
    }
    ByteBuffer lengthField = readFully(in, lengthBytes, "header length");
    long headerLength = major == 1 ? lengthField.getShort() & 0xffffL : lengthField.getInt() & 0xffffffffL;
    if (headerLength > MAX_HEADER_BYTES) {
      throw new IllegalArgumentException("absurd header length " + headerLength + " (at most " + MAX_HEADER_BYTES
          + " bytes expected; the file has " + size + ")");
    }
    if (headerLength > size - preambleLength) {
      throw new IllegalArgumentException("truncated header: header length " + headerLength + " but only "
          + (size - preambleLength) + " bytes follow");
    }
    ByteBuffer headerBytes = readFully(in, (int) headerLength, "header");
    Header header = Header.parse(decode(headerBytes, major));
    long dataOffset = preambleLength + headerLength;
    long expected = header.elementCount * header.itemSize; // no overflow: elementCount <= MAX_ELEMENTS
    long available = size - dataOffset;
    if (available < expected) {
      throw new IllegalArgumentException("truncated data: shape " + pythonTuple(header.shape) + " of "
          + header.typeName() + " needs " + expected + " bytes, the file has " + available + " after the header");
    }
    if (available > expected) {
      throw new IllegalArgumentException("size mismatch: shape " + pythonTuple(header.shape) + " of "
          + header.typeName() + " needs " + expected + " bytes, the file has " + available
          + " after the header (trailing data)");
    }
    return new NpyArray(header.shape, readData(in, (int) header.elementCount, header.itemSize));
  }

  private static String decode(ByteBuffer header, int major) {
    try {
      return (major == 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1)
          .newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(header)
          .toString();
    } catch (CharacterCodingException e) {
      throw new IllegalArgumentException("malformed header: not valid UTF-8");
    }
  }

  /** Reads the values in chunks, so that float64 data needs no double[] beside the float[] result. */
  private static float[] readData(ReadableByteChannel in, int count, int itemSize) throws IOException {
    float[] data = new float[count];
    int perChunk = CHUNK_BYTES / itemSize;
    ByteBuffer chunk = ByteBuffer.allocate((int) Math.min((long) count * itemSize, CHUNK_BYTES));
    chunk.order(ByteOrder.LITTLE_ENDIAN);
    for (int done = 0; done < count; ) {
      int n = Math.min(perChunk, count - done);
      chunk.clear().limit(n * itemSize);
      fill(in, chunk, "data");
      chunk.flip();
      if (itemSize == Float.BYTES) {
        chunk.asFloatBuffer().get(data, done, n);
      } else {
        for (int i = 0; i < n; i++) data[done + i] = toFloat(chunk.getDouble(i * Double.BYTES), done + i);
      }
      done += n;
    }
    return data;
  }

  /** float64 to float32, rounding to nearest; a finite value beyond float32's range is an error, not infinity. */
  private static float toFloat(double v, long index) {
    float f = (float) v;
    if (Float.isInfinite(f) && !Double.isInfinite(v)) {
      throw new IllegalArgumentException("float64 value " + v + " at index " + index + " does not fit float32");
    }
    return f;
  }

  private static ByteBuffer readFully(ReadableByteChannel in, int length, String what) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(length).order(ByteOrder.LITTLE_ENDIAN);
    fill(in, b, what);
    return b.flip();
  }

  private static void fill(ReadableByteChannel in, ByteBuffer b, String what) throws IOException {
    while (b.hasRemaining()) {
      if (in.read(b) < 0) throw new IllegalArgumentException("truncated " + what + ": the file ended early");
    }
  }

  /** The parsed header dict: dtype, shape; Fortran order has already been rejected. */
  private static final class Header {
    final long[] shape;
    final long elementCount;
    final int itemSize;

    private Header(long[] shape, int itemSize) {
      this.shape = shape;
      this.itemSize = itemSize;
      this.elementCount = elementCount(shape);
      if (elementCount > MAX_ELEMENTS) {
        throw new IllegalArgumentException(
            "shape " + pythonTuple(shape) + " has " + elementCount + " elements, more than normkit reads ("
                + MAX_ELEMENTS + ")");
      }
    }

    String typeName() {
      return itemSize == Float.BYTES ? "float32" : "float64";
    }

    static Header parse(String text) {
      Map<String, Object> dict = new HeaderParser(text).dict();
      for (String key : dict.keySet()) {
        if (!key.equals("descr") && !key.equals("fortran_order") && !key.equals("shape")) {
          throw new IllegalArgumentException("malformed header: unexpected key '" + key + "'");
        }
      }
      Object descr = required(dict, "descr"), fortran = required(dict, "fortran_order");
      Object shape = required(dict, "shape");
      if (descr instanceof StructuredDescr) {
        throw new IllegalArgumentException("unsupported dtype " + ((StructuredDescr) descr).text
            + ": structured arrays are not supported (expected float32 '<f4' or float64 '<f8')");
      }
      if (!(descr instanceof String)) {
        throw new IllegalArgumentException("malformed header: descr must be a string, got " + descr);
      }
      int itemSize = itemSize((String) descr);
      if (!(fortran instanceof Boolean)) {
        throw new IllegalArgumentException("malformed header: fortran_order must be True or False, got " + fortran);
      }
      if ((Boolean) fortran) {
        throw new IllegalArgumentException("fortran_order: True is not supported (write the array in C order, e.g."
            + " np.ascontiguousarray)");
      }
      if (!(shape instanceof long[])) {
        throw new IllegalArgumentException("malformed header: shape must be a tuple of integers, got " + shape);
      }
      long[] dims = (long[]) shape;
      if (dims.length == 0) {
        throw new IllegalArgumentException("0-d array (shape ()) is not supported: a tensor has rank >= 1");
      }
      if (dims.length > MAX_RANK) {
        throw new IllegalArgumentException("malformed header: rank " + dims.length + " exceeds " + MAX_RANK);
      }
      return new Header(dims, itemSize);
    }

    private static Object required(Map<String, Object> dict, String key) {
      Object v = dict.get(key);
      if (v == null) throw new IllegalArgumentException("malformed header: missing key '" + key + "'");
      return v;
    }

    /** 4 for float32, 8 for float64, little-endian or without a byte order; anything else is rejected by name. */
    private static int itemSize(String descr) {
      char order = descr.isEmpty() ? 0 : descr.charAt(0);
      if (order == '>') {
        throw new IllegalArgumentException("big-endian dtype '" + descr + "' is not supported (expected '<f4' or"
            + " '<f8'; in numpy: a.astype('<f4'))");
      }
      String type = order == '<' || order == '|' ? descr.substring(1) : descr;
      switch (type) {
        case "f4":
          return Float.BYTES;
        case "f8":
          return Double.BYTES;
        default:
          throw new IllegalArgumentException("unsupported dtype '" + descr + "'" + kindName(type)
              + ": expected float32 '<f4' or float64 '<f8'");
      }
    }

    private static String kindName(String type) {
      if (type.isEmpty()) return "";
      switch (type.charAt(0)) {
        case 'i':
        case 'u':
          return " (integer)";
        case 'b':
        case '?':
          return " (bool)";
        case 'c':
          return " (complex)";
        case 'f':
          return " (a float size normkit does not read)";
        default:
          return "";
      }
    }
  }

  /**
   * A parser for the Python literal subset a {@code .npy} header uses: a dict of string keys to strings, True/False
   * and tuples of non-negative integers (returned as {@code long[]}); a list (a structured dtype) comes back as a
   * {@link StructuredDescr}. Trailing whitespace (the padding and the newline) is allowed, nothing else.
   */
  private static final class HeaderParser {
    private final String s;
    private int i;

    HeaderParser(String s) {
      this.s = s;
    }

    Map<String, Object> dict() {
      Map<String, Object> dict = new HashMap<>();
      expect('{');
      while (!peek('}')) {
        String key = string();
        expect(':');
        if (dict.put(key, value()) != null) throw malformed("duplicate key '" + key + "'");
        if (!peek('}')) expect(',');
      }
      expect('}');
      skipSpace();
      if (i != s.length()) throw malformed("unexpected text after the dict");
      return dict;
    }

    private Object value() {
      skipSpace();
      if (i >= s.length()) throw malformed("unexpected end");
      char c = s.charAt(i);
      if (c == '\'' || c == '"') return string();
      if (c == '(') return tuple();
      if (c == '[') return list();
      if (s.startsWith("True", i)) {
        i += 4;
        return Boolean.TRUE;
      }
      if (s.startsWith("False", i)) {
        i += 5;
        return Boolean.FALSE;
      }
      throw malformed("unexpected value at offset " + i);
    }

    private String string() {
      skipSpace();
      if (i >= s.length() || (s.charAt(i) != '\'' && s.charAt(i) != '"')) throw malformed("expected a string");
      char quote = s.charAt(i++);
      int end = s.indexOf(quote, i);
      if (end < 0) throw malformed("unterminated string");
      String v = s.substring(i, end);
      if (v.indexOf('\\') >= 0) throw malformed("escapes in strings are not supported");
      i = end + 1;
      return v;
    }

    private long[] tuple() {
      expect('(');
      long[] dims = new long[4];
      int n = 0;
      while (!peek(')')) {
        if (n == MAX_RANK) throw malformed("more than " + MAX_RANK + " dimensions");
        if (n == dims.length) dims = Arrays.copyOf(dims, 2 * n);
        dims[n++] = integer();
        if (!peek(')')) expect(',');
      }
      expect(')');
      return Arrays.copyOf(dims, n);
    }

    /** A structured dtype's list, kept as text for the error message. */
    private StructuredDescr list() {
      int start = i, depth = 0;
      for (; i < s.length(); i++) {
        char c = s.charAt(i);
        if (c == '[') depth++;
        if (c == ']' && --depth == 0) return new StructuredDescr(s.substring(start, ++i));
      }
      throw malformed("unterminated list");
    }

    private long integer() {
      skipSpace();
      int start = i;
      while (i < s.length() && s.charAt(i) >= '0' && s.charAt(i) <= '9') i++;
      if (start == i) throw malformed("expected a non-negative integer at offset " + start);
      String digits = s.substring(start, i);
      if (i < s.length() && s.charAt(i) == 'L') i++; // Python 2's long suffix, written by old numpy
      if (digits.length() > 18) throw malformed("dimension " + digits + " is too large");
      return Long.parseLong(digits);
    }

    private boolean peek(char c) {
      skipSpace();
      return i < s.length() && s.charAt(i) == c;
    }

    private void expect(char c) {
      if (!peek(c)) throw malformed("expected '" + c + "' at offset " + i);
      i++;
    }

    private void skipSpace() {
      while (i < s.length() && (s.charAt(i) == ' ' || s.charAt(i) == '\n' || s.charAt(i) == '\t')) i++;
    }

    private IllegalArgumentException malformed(String what) {
      return new IllegalArgumentException("malformed header: " + what);
    }
  }

  /** A structured dtype's descr (a list), which normkit does not read; kept as text for the message. */
  private static final class StructuredDescr {
    final String text;

    StructuredDescr(String text) {
      this.text = text;
    }
  }

  // --------------------------------------------------------------------------------------------------- writing

  /** Writes {@code array} to {@code file} as a float32 version 1.0 {@code .npy}, atomically (see {@link #stage}). */
  public static void write(Path file, NpyArray array) throws IOException {
    try (Staged staged = stage(file, array)) {
      staged.commit();
    }
  }

  /**
   * Writes {@code array} to a new temporary file beside {@code target}; {@link Staged#commit()} moves it to the
   * target name, closing without commit deletes it. Staging every output first and committing them afterwards
   * writes either all outputs or (barring a failed rename) none. The temporary name does not contain the target's:
   * a valid target name of 240 to 255 bytes made a longer temporary name beyond the file system's limit.
   */
  public static Staged stage(Path target, NpyArray array) throws IOException {
    if (Files.isDirectory(target)) throw new IllegalArgumentException(target + " is a directory");
    Path dir = target.toAbsolutePath().getParent();
    Path temp = null;
    FileChannel created = null;
    for (int attempt = 0; created == null; attempt++) {
      temp = dir.resolve(".normkit-" + Long.toHexString(ThreadLocalRandom.current().nextLong()) + ".tmp");
      try {
        created = FileChannel.open(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
      } catch (FileAlreadyExistsException e) {
        if (attempt == 10) throw e;
      }
    }
    Staged staged = new Staged(temp, target);
    try (FileChannel out = created) {
      writeTo(out, array);
      return staged;
    } catch (IOException | RuntimeException | Error e) {
      try {
        staged.close();
      } catch (IOException suppressed) {
        e.addSuppressed(suppressed);
      }
      throw e;
    }
  }

  /** The bytes of {@code array} as a float32 version 1.0 {@code .npy} file. */
  public static byte[] encode(NpyArray array) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try {
      writeTo(Channels.newChannel(bytes), array);
    } catch (IOException e) {
      throw new UncheckedIOException(e); // cannot happen for an in-memory stream
    }
    return bytes.toByteArray();
  }

  private static void writeTo(WritableByteChannel out, NpyArray array) throws IOException {
    write(out, ByteBuffer.wrap(header(array.shape())));
    float[] data = array.data();
    ByteBuffer chunk = ByteBuffer.allocate(CHUNK_BYTES).order(ByteOrder.LITTLE_ENDIAN);
    for (int done = 0; done < data.length; ) {
      int n = Math.min(CHUNK_BYTES / Float.BYTES, data.length - done);
      chunk.clear();
      chunk.asFloatBuffer().put(data, done, n);
      chunk.limit(n * Float.BYTES);
      write(out, chunk);
      done += n;
    }
  }

  private static void write(WritableByteChannel out, ByteBuffer b) throws IOException {
    while (b.hasRemaining()) out.write(b);
  }

  /** Magic, version 1.0, header length and the header dict padded with spaces to a multiple of 64, then '\n'. */
  static byte[] header(long[] shape) {
    String dict = "{'descr': '<f4', 'fortran_order': False, 'shape': " + pythonTuple(shape) + ", }";
    int preamble = MAGIC.length + 2 + 2;
    int total = (preamble + dict.length() + 1 + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
    StringBuilder header = new StringBuilder(dict);
    while (preamble + header.length() + 1 < total) header.append(' ');
    header.append('\n');
    ByteBuffer b = ByteBuffer.allocate(total).order(ByteOrder.LITTLE_ENDIAN);
    b.put(MAGIC).put((byte) 1).put((byte) 0).putShort((short) header.length());
    b.put(header.toString().getBytes(StandardCharsets.ISO_8859_1));
    return b.array();
  }

  /** A written temporary file waiting to be moved to its target name. */
  public static final class Staged implements AutoCloseable {
    private final Path temp;
    private final Path target;
    private boolean committed;

    private Staged(Path temp, Path target) {
      this.temp = temp;
      this.target = target;
    }

    public Path target() {
      return target;
    }

    /** Moves the file to its target name, atomically where the file system allows (replacing an old file). */
    public void commit() throws IOException {
      try {
        Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(temp, target, StandardCopyOption.REPLACE_EXISTING);
      }
      committed = true;
    }

    /** Deletes the temporary file unless it was committed. */
    @Override
    public void close() throws IOException {
      if (!committed) Files.deleteIfExists(temp);
    }
  }

  // --------------------------------------------------------------------------------------------------- shapes

  /** The product of the dims; {@link IllegalArgumentException} if one is negative or the product overflows. */
  static long elementCount(long[] shape) {
    for (long d : shape) {
      if (d < 0) throw new IllegalArgumentException("negative dimension in shape " + pythonTuple(shape));
    }
    long count = 1;
    for (long d : shape) {
      if (d == 0) return 0;
      try {
        count = Math.multiplyExact(count, d);
      } catch (ArithmeticException e) {
        throw new IllegalArgumentException("the element count of shape " + pythonTuple(shape) + " overflows");
      }
    }
    return count;
  }

  /** "(2, 3)", and "(4,)" for rank 1, as Python prints a tuple. */
  static String pythonTuple(long[] shape) {
    if (shape.length == 1) return "(" + shape[0] + ",)";
    StringJoiner j = new StringJoiner(", ", "(", ")");
    for (long d : shape) j.add(Long.toString(d));
    return j.toString();
  }
}
