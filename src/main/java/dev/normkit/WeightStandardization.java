package dev.normkit;

/**
 * Weight standardization (Qiao et al., 2019): a convolution weight w of shape (O, ...) standardized per output
 * filter over its K values before use. The formula is a named choice ({@link WsVariant}); the default, SEED, is the
 * seed document's PyTorch Conv2d:
 *
 * <pre>
 *   SEED              w_hat = (w - mean) / (std_unbiased + eps)                                  eps 1e-5
 *   BATCH_NORM_STYLE  w_hat = (w - mean) / sqrt(var + eps)                                       eps 1e-6 (timm)
 *   SCALED            w_hat = gain[o] * gamma * K^-0.5 * (w - mean) / sqrt(var + eps)            eps 1e-6 (NF-Nets)
 * </pre>
 *
 * {@link #backward} gives the gradient with respect to the raw weight (through mean and std) and, for SCALED, the
 * gain's gradient in {@link #gainGrad()}.
 */
public final class WeightStandardization extends AbstractLayer {
  private final long outChannels;
  private final WsVariant variant;
  private final double eps;
  private final double gamma;
  private final Backend backend;
  private final Tensor gain, gainGrad;
  private final Tensor saveMean, saveRstd;
  private Tensor lastWeight;

  private WeightStandardization(Builder b) {
    this.outChannels = b.outChannels;
    this.variant = b.variant;
    this.eps = Double.isNaN(b.eps) ? b.variant.defaultEps() : b.eps;
    this.gamma = b.gamma;
    this.backend = b.backend;
    boolean scaled = variant == WsVariant.SCALED;
    this.gain = own(scaled ? filledVector(outChannels, 1f) : null);
    this.gainGrad = own(scaled ? filledVector(outChannels, 0f) : null);
    this.saveMean = own(filledVector(outChannels, 0f));
    this.saveRstd = own(filledVector(outChannels, 0f));
  }

  /** A builder for weights with {@code outChannels} filters (the first dim of the weight). */
  public static Builder builder(long outChannels) {
    return new Builder(outChannels);
  }

  /** w_hat in a new tensor (w's shape and layout). */
  public Tensor forward(Tensor w) {
    Checks.notNull(w, "weight").checkOpen();
    return newOutput(w.shape(), w.layout(), out -> forward(w, out));
  }

  /** w_hat into {@code wHat}. */
  public synchronized void forward(Tensor w, Tensor wHat) {
    checkOpen();
    checkFilters(w);
    Functional.weightStandardize(backend, w, variant, eps, gamma, gain, wHat, saveMean, saveRstd);
    lastWeight = w;
  }

  /** d loss / d w from d loss / d w_hat, for the most recent forward weight, in a new tensor. */
  public Tensor backward(Tensor dwHat) {
    Tensor w = weightForBackward();
    return newOutput(w.shape(), w.layout(), dw -> backward(dwHat, dw));
  }

  /** d loss / d w into {@code dw}; for SCALED the gain's gradient goes to {@link #gainGrad()}. */
  public synchronized void backward(Tensor dwHat, Tensor dw) {
    Tensor w = weightForBackward();
    Functional.weightStandardizeBackward(backend, w, dwHat, variant, eps, gamma, gain, saveMean, saveRstd, dw,
        gainGrad);
  }

  private synchronized Tensor weightForBackward() {
    checkOpen();
    if (lastWeight == null) throw new IllegalStateException("WeightStandardization.backward called before forward");
    return lastWeight;
  }

  private void checkFilters(Tensor w) {
    Checks.notNull(w, "weight").checkOpen();
    if (w.shape().dim(0) != outChannels) {
      throw new IllegalArgumentException(
          "WeightStandardization expects " + outChannels + " filters, weight " + w.shape() + " has " + w.shape().dim(0));
    }
  }

  public WsVariant variant() { return variant; }
  public double eps() { return eps; }
  public double gamma() { return gamma; }
  public Backend backend() { return backend; }
  /** The SCALED variant's per-filter gain, shape (O), initially 1; null for the other variants. */
  public Tensor gain() { checkOpen(); return gain; }
  /** d loss / d gain from the latest backward (SCALED only). */
  public Tensor gainGrad() { checkOpen(); return gainGrad; }

  /** Settings of a {@link WeightStandardization}; default variant SEED with its eps. */
  public static final class Builder {
    private final long outChannels;
    private WsVariant variant = WsVariant.SEED;
    private double eps = Double.NaN;
    private double gamma = 1.0;
    private Backend backend = Backend.defaultBackend();

    private Builder(long outChannels) {
      Checks.argument(outChannels >= 1, "outChannels must be >= 1, got " + outChannels);
      this.outChannels = outChannels;
    }

    public Builder variant(WsVariant variant) { this.variant = Checks.notNull(variant, "variant"); return this; }
    /** eps; default the variant's ({@link WsVariant#defaultEps()}). */
    public Builder eps(double eps) { this.eps = Checks.eps(eps); return this; }
    /** The SCALED variant's gamma (NF-Nets' activation-dependent constant); default 1. */
    public Builder gamma(double gamma) {
      Checks.argument(Double.isFinite(gamma), "gamma must be finite, got " + gamma);
      this.gamma = gamma;
      return this;
    }
    public Builder backend(Backend backend) { this.backend = Checks.notNull(backend, "backend"); return this; }

    public WeightStandardization build() {
      return new WeightStandardization(this);
    }
  }
}
