package dev.normkit;

/**
 * The geometry of a 2-D convolution, as in PyTorch's {@code F.conv2d}: stride, zero padding and dilation per spatial
 * dim, and the number of groups. Output size per dim: (in + 2 * pad - dilation * (k - 1) - 1) / stride + 1.
 */
public final class Conv2dSpec {
  private final int strideH, strideW, padH, padW, dilationH, dilationW, groups;

  private Conv2dSpec(int strideH, int strideW, int padH, int padW, int dilationH, int dilationW, int groups) {
    Checks.argument(strideH >= 1 && strideW >= 1, "stride must be >= 1, got (" + strideH + ", " + strideW + ")");
    Checks.argument(padH >= 0 && padW >= 0, "padding must be >= 0, got (" + padH + ", " + padW + ")");
    Checks.argument(
        dilationH >= 1 && dilationW >= 1, "dilation must be >= 1, got (" + dilationH + ", " + dilationW + ")");
    Checks.argument(groups >= 1, "groups must be >= 1, got " + groups);
    this.strideH = strideH;
    this.strideW = strideW;
    this.padH = padH;
    this.padW = padW;
    this.dilationH = dilationH;
    this.dilationW = dilationW;
    this.groups = groups;
  }

  /** stride 1, padding 0, dilation 1, groups 1. */
  public static Conv2dSpec defaults() {
    return new Conv2dSpec(1, 1, 0, 0, 1, 1, 1);
  }

  public static Conv2dSpec of(int stride, int padding, int dilation, int groups) {
    return new Conv2dSpec(stride, stride, padding, padding, dilation, dilation, groups);
  }

  public static Conv2dSpec of(
      int strideH, int strideW, int padH, int padW, int dilationH, int dilationW, int groups) {
    return new Conv2dSpec(strideH, strideW, padH, padW, dilationH, dilationW, groups);
  }

  public Conv2dSpec withStride(int s) {
    return new Conv2dSpec(s, s, padH, padW, dilationH, dilationW, groups);
  }

  public Conv2dSpec withPadding(int p) {
    return new Conv2dSpec(strideH, strideW, p, p, dilationH, dilationW, groups);
  }

  public Conv2dSpec withDilation(int d) {
    return new Conv2dSpec(strideH, strideW, padH, padW, d, d, groups);
  }

  public Conv2dSpec withGroups(int g) {
    return new Conv2dSpec(strideH, strideW, padH, padW, dilationH, dilationW, g);
  }

  public int strideH() { return strideH; }
  public int strideW() { return strideW; }
  public int padH() { return padH; }
  public int padW() { return padW; }
  public int dilationH() { return dilationH; }
  public int dilationW() { return dilationW; }
  public int groups() { return groups; }

  /** The output size along one dim, or a negative number when the kernel does not fit. */
  public static long outputSize(long in, long kernel, int stride, int pad, int dilation) {
    return Math.floorDiv(in + 2L * pad - (long) dilation * (kernel - 1) - 1, stride) + 1;
  }

  /**
   * The output shape (N, O, OH, OW) of x (N, C, H, W) convolved with w (O, C / groups, kH, kW); throws
   * {@link IllegalArgumentException} naming the value that does not fit.
   */
  public Shape outputShape(Shape x, Shape w) {
    validate(x, w);
    return Shape.of(x.dim(0), w.dim(0), outputHeight(x, w), outputWidth(x, w));
  }

  /**
   * Whether {@code y} is the output shape of input {@code x} and weight {@code w}, which the caller has validated
   * ({@link #validate}); unlike {@link #outputShape}, allocates nothing (it runs on every call).
   */
  boolean isOutputShape(Shape y, Shape x, Shape w) {
    return y.rank() == 4 && y.dim(0) == x.dim(0) && y.dim(1) == w.dim(0) && y.dim(2) == outputHeight(x, w)
        && y.dim(3) == outputWidth(x, w);
  }

  /** Checks that input {@code x} and weight {@code w} fit this geometry (IllegalArgumentException naming the value). */
  public void validate(Shape x, Shape w) {
    // each message is built only when its check fails: this runs on every call
    if (x.rank() != 4) throw new IllegalArgumentException("conv2d input must have shape (N, C, H, W), got " + x);
    if (w.rank() != 4) {
      throw new IllegalArgumentException("conv2d weight must have shape (O, C/groups, kH, kW), got " + w);
    }
    long c = x.dim(1), o = w.dim(0);
    if (c % groups != 0) {
      throw new IllegalArgumentException("input channels " + c + " not divisible by groups " + groups);
    }
    if (o % groups != 0) {
      throw new IllegalArgumentException("output channels " + o + " not divisible by groups " + groups);
    }
    if (w.dim(1) != c / groups) {
      throw new IllegalArgumentException(
          "weight " + w + " needs C/groups = " + (c / groups) + " input channels per group, has " + w.dim(1));
    }
    if (w.dim(2) < 1 || w.dim(3) < 1) {
      throw new IllegalArgumentException("conv2d kernel must be at least 1x1, got " + w.dim(2) + "x" + w.dim(3));
    }
    checkIntExtents(x.dim(2), w.dim(2), padH, dilationH, "height");
    checkIntExtents(x.dim(3), w.dim(3), padW, dilationW, "width");
    if (outputHeight(x, w) < 1 || outputWidth(x, w) < 1) {
      throw new IllegalArgumentException(
          "kernel " + w.dim(2) + "x" + w.dim(3) + " with padding (" + padH + ", " + padW + ") and dilation ("
              + dilationH + ", " + dilationW + ") does not fit input " + x.dim(2) + "x" + x.dim(3));
    }
  }

  /**
   * oneDNN computes a convolution's geometry in 32-bit ints, so along each dim the padded input (in + 2 * pad) and the
   * dilated kernel (dilation * (k - 1) + 1) must fit one: padding and dilation of 2^30 + 1 around a 3x3 input,
   * which leave a 3x3 output, crashed the JVM inside oneDNN.
   */
  private static void checkIntExtents(long in, long kernel, int pad, int dilation, String dim) {
    long padded = in + 2L * pad, dilated = (long) dilation * (kernel - 1) + 1;
    if (padded > Integer.MAX_VALUE || dilated > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("conv2d " + dim + ": input " + in + " with padding " + pad + " spans "
          + padded + ", kernel " + kernel + " with dilation " + dilation + " spans " + dilated
          + "; both must be at most " + Integer.MAX_VALUE);
    }
  }

  private long outputHeight(Shape x, Shape w) {
    return outputSize(x.dim(2), w.dim(2), strideH, padH, dilationH);
  }

  private long outputWidth(Shape x, Shape w) {
    return outputSize(x.dim(3), w.dim(3), strideW, padW, dilationW);
  }

  @Override
  public boolean equals(Object o) {
    if (!(o instanceof Conv2dSpec)) return false;
    Conv2dSpec s = (Conv2dSpec) o;
    return strideH == s.strideH && strideW == s.strideW && padH == s.padH && padW == s.padW
        && dilationH == s.dilationH && dilationW == s.dilationW && groups == s.groups;
  }

  /** The same value as {@code Objects.hash} of the seven fields, without boxing them (it runs on every call). */
  @Override
  public int hashCode() {
    int h = 31 + strideH;
    h = 31 * h + strideW;
    h = 31 * h + padH;
    h = 31 * h + padW;
    h = 31 * h + dilationH;
    h = 31 * h + dilationW;
    return 31 * h + groups;
  }

  @Override
  public String toString() {
    return "Conv2dSpec{stride=(" + strideH + ", " + strideW + "), padding=(" + padH + ", " + padW
        + "), dilation=(" + dilationH + ", " + dilationW + "), groups=" + groups + "}";
  }
}
