package dev.normkit.train;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/** The normalizations the example network can use after each convolution. */
public enum NormKind {
  /** BatchNorm2d; evaluation uses the running statistics. */
  BN("bn", "BN"),
  /** GroupNorm with 8 groups. */
  GN("gn", "GN"),
  /** GroupNorm with 8 groups after weight-standardized convolutions (StdConv2d). */
  GNWS("gnws", "GN+WS"),
  /** InstanceNorm2d with affine parameters. */
  IN("in", "IN"),
  /** LayerNorm over (C, H, W) with elementwise affine parameters. */
  LN("ln", "LN");

  /** The group count of GN and GN+WS, as in the group-norm paper's default. */
  public static final int GROUPS = 8;

  private final String cliName;
  private final String label;

  NormKind(String cliName, String label) {
    this.cliName = cliName;
    this.label = label;
  }

  /** The name on the command line and in JSON records: bn, gn, gnws, in, ln. */
  public String cliName() {
    return cliName;
  }

  /** The name in tables and plots: BN, GN, GN+WS, IN, LN. */
  public String label() {
    return label;
  }

  /** Whether the convolutions standardize their weights. */
  public boolean standardizesWeights() {
    return this == GNWS;
  }

  public static NormKind parse(String name) {
    for (NormKind k : values()) {
      if (k.cliName.equals(name.trim().toLowerCase(Locale.ROOT))) return k;
    }
    throw new IllegalArgumentException("unknown norm '" + name + "' (expected "
        + Arrays.stream(values()).map(NormKind::cliName).collect(Collectors.joining(", ")) + ")");
  }
}
