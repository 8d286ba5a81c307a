package dev.normkit;

import java.util.Locale;

/**
 * How a tensor of logical shape (N, C, *spatial) is laid out in memory.
 *
 * <ul>
 *   <li>{@link #CHANNELS_FIRST}: contiguous in logical order (NC, NCL, NCHW, NCDHW);
 *   <li>{@link #CHANNELS_LAST}: the channel dimension innermost (NC, NLC, NHWC, NDHWC).
 * </ul>
 *
 * For ranks 1 and 2 the two layouts coincide. Logical indices (what {@link Tensor#get} and the {@code .npy} files
 * use) never depend on the layout; only the memory order does.
 */
public enum Layout {
  CHANNELS_FIRST("nchw"),
  CHANNELS_LAST("nhwc");

  private final String cliName;

  Layout(String cliName) {
    this.cliName = cliName;
  }

  /** The name used by the command-line tool: {@code nchw} or {@code nhwc}. */
  public String cliName() {
    return cliName;
  }

  /** Parses {@code nchw}/{@code nhwc} (also {@code channels_first}/{@code channels_last}), case-insensitively. */
  public static Layout parse(String name) {
    Checks.notNull(name, "layout");
    switch (name.toLowerCase(Locale.ROOT)) {
      case "nchw":
      case "channels_first":
      case "channels-first":
        return CHANNELS_FIRST;
      case "nhwc":
      case "channels_last":
      case "channels-last":
        return CHANNELS_LAST;
      default:
        throw new IllegalArgumentException("unknown layout '" + name + "' (expected nchw or nhwc)");
    }
  }

  /**
   * The memory stride, in elements, of each logical dimension of {@code shape} in this layout.
   *
   * <p>CHANNELS_LAST on (N, C, S1..Sk): stride(C) = 1, stride(Sk) = C, ..., stride(N) = C * S1 * ... * Sk.
   */
  public long[] strides(Shape shape) {
    int rank = shape.rank();
    long[] strides = new long[rank];
    if (this == CHANNELS_FIRST || rank <= 2) {
      long s = 1;
      for (int d = rank - 1; d >= 0; d--) {
        strides[d] = s;
        s *= shape.dim(d);
      }
      return strides;
    }
    long s = shape.dim(1);
    strides[1] = 1;
    for (int d = rank - 1; d >= 2; d--) {
      strides[d] = s;
      s *= shape.dim(d);
    }
    strides[0] = s;
    return strides;
  }

  /**
   * The layout oneDNN should be told for a tensor of {@code shape} in {@code layout}: CHANNELS_FIRST when the shape
   * has the same memory order in both (so that equal memory always gets one primitive), else the layout itself.
   */
  public static Layout canonical(Shape shape, Layout layout) {
    return layoutsCoincide(shape) ? CHANNELS_FIRST : layout;
  }

  /** True when {@code shape} in this layout has the same memory order as in the other layout. */
  public static boolean layoutsCoincide(Shape shape) {
    if (shape.rank() <= 2) return true;
    long spatial = shape.spatialSize();
    return shape.dim(1) == 1 || spatial == 1;
  }
}
