package dev.normkit;

/**
 * Instance normalization (Ulyanov, Vedaldi &amp; Lempitsky, 2016), as PyTorch's {@code InstanceNorm1d/2d/3d}: each
 * (n, c) feature map is normalized over its spatial positions,
 *
 * <pre>
 *   y = (x - mean[n, c]) / sqrt(var[n, c] + eps) * weight[c] + bias[c]
 * </pre>
 *
 * Affine parameters are off by default, as in PyTorch. With {@code trackRunningStats} the running statistics move
 * towards the batch averages of the per-instance means and UNBIASED variances in training, and eval mode uses them.
 *
 * <p>Thread safety: as {@link BatchNorm}.
 */
public final class InstanceNorm extends AbstractLayer {
  private final long numFeatures;
  private final double eps;
  private final double momentum;
  private final boolean trackRunningStats;
  private final Backend backend;
  private final Tensor weight, bias, weightGrad, biasGrad;
  private final Tensor runningMean, runningVar;
  private final SavedStatistics saved = new SavedStatistics();
  private volatile boolean training = true;
  private volatile Tensor lastInput;
  private volatile boolean lastUsedInputStats;

  private InstanceNorm(Builder b) {
    this.numFeatures = b.numFeatures;
    this.eps = b.eps;
    this.momentum = b.momentum;
    this.trackRunningStats = b.trackRunningStats;
    this.backend = b.backend;
    this.weight = own(b.affine ? filledVector(numFeatures, 1f) : null);
    this.bias = own(b.affine ? filledVector(numFeatures, 0f) : null);
    this.weightGrad = own(b.affine ? filledVector(numFeatures, 0f) : null);
    this.biasGrad = own(b.affine ? filledVector(numFeatures, 0f) : null);
    this.runningMean = own(trackRunningStats ? filledVector(numFeatures, 0f) : null);
    this.runningVar = own(trackRunningStats ? filledVector(numFeatures, 1f) : null);
  }

  /** A builder for an instance norm over {@code numFeatures} channels. */
  public static Builder builder(long numFeatures) {
    return new Builder(numFeatures);
  }

  /** y = IN(x) in a new tensor. */
  public Tensor forward(Tensor x) {
    Checks.activation(x, "input");
    return newOutput(x.shape(), x.layout(), y -> forward(x, y));
  }

  /** y = IN(x) into {@code y}. */
  public void forward(Tensor x, Tensor y) {
    checkOpen();
    checkChannels(x, numFeatures);
    if (training || !trackRunningStats) {
      synchronized (this) {
        Shape stats = Functional.instanceNormStatisticsShape(x.shape());
        saved.prepare(stats);
        Functional.instanceNorm(backend, x, training ? runningMean : null, training ? runningVar : null, weight,
            bias, true, momentum, eps, y, saved.nextMean(), saved.nextVar());
        saved.commit();
        lastUsedInputStats = true;
        lastInput = x;
      }
    } else {
      Functional.instanceNorm(backend, x, runningMean, runningVar, weight, bias, false, momentum, eps, y, null, null);
      lastUsedInputStats = false;
      lastInput = x;
    }
  }

  /** dx for the most recent forward input, in a new tensor. */
  public Tensor backward(Tensor dy) {
    Tensor x = inputForBackward();
    return newOutput(x.shape(), x.layout(), dx -> backward(dy, dx));
  }

  /** dx into {@code dx}; parameter gradients (with affine) go to weightGrad/biasGrad. */
  public synchronized void backward(Tensor dy, Tensor dx) {
    Tensor x = inputForBackward();
    boolean inputStats = lastUsedInputStats;
    Functional.instanceNormBackward(backend, x, dy, weight, inputStats ? saved.mean() : runningMean,
        inputStats ? saved.var() : runningVar, inputStats, eps, dx, weightGrad, biasGrad);
  }

  private Tensor inputForBackward() {
    checkOpen();
    Tensor x = lastInput;
    if (x == null) throw new IllegalStateException("InstanceNorm.backward called before forward");
    return x;
  }

  public InstanceNorm train() { checkOpen(); training = true; return this; }
  public InstanceNorm eval() { checkOpen(); training = false; return this; }
  public boolean isTraining() { return training; }
  public long numFeatures() { return numFeatures; }
  public double eps() { return eps; }
  public double momentum() { return momentum; }
  public Backend backend() { return backend; }
  public Tensor weight() { checkOpen(); return weight; }
  public Tensor bias() { checkOpen(); return bias; }
  public Tensor weightGrad() { checkOpen(); return weightGrad; }
  public Tensor biasGrad() { checkOpen(); return biasGrad; }
  public Tensor runningMean() { checkOpen(); return runningMean; }
  public Tensor runningVar() { checkOpen(); return runningVar; }

  /** Settings of an {@link InstanceNorm}; defaults as PyTorch: eps 1e-5, momentum 0.1, no affine, no tracking. */
  public static final class Builder {
    private final long numFeatures;
    private double eps = 1e-5;
    private double momentum = 0.1;
    private boolean affine = false;
    private boolean trackRunningStats = false;
    private Backend backend = Backend.defaultBackend();

    private Builder(long numFeatures) {
      Checks.argument(numFeatures >= 1, "numFeatures must be >= 1, got " + numFeatures);
      this.numFeatures = numFeatures;
    }

    public Builder eps(double eps) { this.eps = Checks.eps(eps); return this; }
    public Builder momentum(double momentum) { this.momentum = Checks.momentum(momentum); return this; }
    public Builder affine(boolean affine) { this.affine = affine; return this; }
    public Builder trackRunningStats(boolean track) { this.trackRunningStats = track; return this; }
    public Builder backend(Backend backend) { this.backend = Checks.notNull(backend, "backend"); return this; }

    public InstanceNorm build() {
      return new InstanceNorm(this);
    }
  }
}
