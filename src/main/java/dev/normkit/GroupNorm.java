package dev.normkit;

/**
 * Group normalization (Wu &amp; He, 2018), as PyTorch's {@code GroupNorm(groups, channels)}: the C channels are
 * split into G groups of C / G consecutive channels, and each (n, group) set is normalized over its channels and
 * spatial positions,
 *
 * <pre>
 *   y = (x - mean[n, g]) / sqrt(var[n, g] + eps) * weight[c] + bias[c]
 * </pre>
 *
 * with per-channel weight and bias. It does not depend on the batch size, which is why it (with weight
 * standardization, see {@link StdConv2d}) trains well at micro-batch sizes where batch norm fails.
 *
 * <p>Thread safety: forward and backward are serialized on the layer; backward uses the most recent forward input.
 */
public final class GroupNorm extends AbstractLayer {
  private final int groups;
  private final long channels;
  private final double eps;
  private final Backend backend;
  private final Tensor weight, bias, weightGrad, biasGrad;
  private final SavedStatistics saved = new SavedStatistics();
  private Tensor lastInput;

  private GroupNorm(Builder b) {
    this.groups = b.groups;
    this.channels = b.channels;
    this.eps = b.eps;
    this.backend = b.backend;
    this.weight = own(b.affine ? filledVector(channels, 1f) : null);
    this.bias = own(b.affine ? filledVector(channels, 0f) : null);
    this.weightGrad = own(b.affine ? filledVector(channels, 0f) : null);
    this.biasGrad = own(b.affine ? filledVector(channels, 0f) : null);
  }

  /** A builder for a group norm of {@code groups} groups over {@code channels} channels (C % G == 0). */
  public static Builder builder(int groups, long channels) {
    return new Builder(groups, channels);
  }

  /** y = GN(x) in a new tensor. */
  public Tensor forward(Tensor x) {
    Checks.activation(x, "input");
    return newOutput(x.shape(), x.layout(), y -> forward(x, y));
  }

  /** y = GN(x) into {@code y}. */
  public synchronized void forward(Tensor x, Tensor y) {
    checkOpen();
    checkChannels(x, channels);
    Shape stats = Functional.groupNormStatisticsShape(x.shape(), groups);
    saved.prepare(stats);
    Functional.groupNorm(backend, x, groups, weight, bias, eps, y, saved.nextMean(), saved.nextVar());
    saved.commit();
    lastInput = x;
  }

  /** dx for the most recent forward input, in a new tensor. */
  public Tensor backward(Tensor dy) {
    Tensor x = inputForBackward();
    return newOutput(x.shape(), x.layout(), dx -> backward(dy, dx));
  }

  /** dx into {@code dx}; parameter gradients go to weightGrad/biasGrad. */
  public synchronized void backward(Tensor dy, Tensor dx) {
    Tensor x = inputForBackward();
    Functional.groupNormBackward(backend, x, dy, groups, weight, saved.mean(), saved.var(), eps, dx, weightGrad, biasGrad);
  }

  private synchronized Tensor inputForBackward() {
    checkOpen();
    if (lastInput == null) throw new IllegalStateException("GroupNorm.backward called before forward");
    return lastInput;
  }

  public int groups() { return groups; }
  public long channels() { return channels; }
  public double eps() { return eps; }
  public Backend backend() { return backend; }
  public Tensor weight() { checkOpen(); return weight; }
  public Tensor bias() { checkOpen(); return bias; }
  public Tensor weightGrad() { checkOpen(); return weightGrad; }
  public Tensor biasGrad() { checkOpen(); return biasGrad; }

  /** Settings of a {@link GroupNorm}; defaults as PyTorch: eps 1e-5, affine. */
  public static final class Builder {
    private final int groups;
    private final long channels;
    private double eps = 1e-5;
    private boolean affine = true;
    private Backend backend = Backend.defaultBackend();

    private Builder(int groups, long channels) {
      Checks.argument(groups >= 1, "groups must be >= 1, got " + groups);
      Checks.argument(channels >= 1, "channels must be >= 1, got " + channels);
      Checks.argument(channels % groups == 0, "channels " + channels + " not divisible by groups " + groups);
      this.groups = groups;
      this.channels = channels;
    }

    public Builder eps(double eps) { this.eps = Checks.eps(eps); return this; }
    public Builder affine(boolean affine) { this.affine = affine; return this; }
    public Builder backend(Backend backend) { this.backend = Checks.notNull(backend, "backend"); return this; }

    public GroupNorm build() {
      return new GroupNorm(this);
    }
  }
}
