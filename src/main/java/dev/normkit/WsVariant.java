package dev.normkit;

import java.util.Locale;

/**
 * The weight-standardization formula. A weight w of shape (O, ...) is standardized per output filter o over its K
 * values; the variants differ by several percent for large K, so the choice is named (CONVENTIONS.md).
 */
public enum WsVariant {
  /**
   * The seed's (and the original WS repository's) PyTorch Conv2d: (w - mean) / (std_unbiased + eps), with K - 1 in
   * the variance's denominator and eps added to the std. Default eps 1e-5. Requires K &gt; 1.
   */
  SEED("seed", 1e-5),
  /** timm's StdConv2d: (w - mean) / sqrt(var_biased + eps). Default eps 1e-6. */
  BATCH_NORM_STYLE("bn", 1e-6),
  /**
   * timm's ScaledStdConv2d (NF-Nets): gain[o] * gamma * K^-0.5 * (w - mean) / sqrt(var_biased + eps), gain
   * initialised to 1. Default eps 1e-6.
   */
  SCALED("scaled", 1e-6);

  private final String cliName;
  private final double defaultEps;

  WsVariant(String cliName, double defaultEps) {
    this.cliName = cliName;
    this.defaultEps = defaultEps;
  }

  public String cliName() {
    return cliName;
  }

  public double defaultEps() {
    return defaultEps;
  }

  /** Parses {@code seed}, {@code bn} (or {@code batch_norm_style}) and {@code scaled}. */
  public static WsVariant parse(String name) {
    Checks.notNull(name, "variant");
    switch (name.toLowerCase(Locale.ROOT)) {
      case "seed":
        return SEED;
      case "bn":
      case "batch_norm_style":
      case "batch-norm-style":
        return BATCH_NORM_STYLE;
      case "scaled":
        return SCALED;
      default:
        throw new IllegalArgumentException("unknown weight-standardization variant '" + name + "' (expected seed, bn or scaled)");
    }
  }
}
