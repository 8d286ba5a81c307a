package dev.normkit;

/**
 * Batch normalization (Ioffe &amp; Szegedy, 2015) over a batch of (N, C, *spatial) inputs, as PyTorch's
 * {@code BatchNorm1d/2d/3d}:
 *
 * <pre>
 *   y = (x - mean[c]) / sqrt(var[c] + eps) * weight[c] + bias[c]
 * </pre>
 *
 * In training mode mean and var (biased) are the batch's, over N and the spatial dims, and the running statistics
 * move towards them: {@code running_mean = (1 - momentum) * running_mean + momentum * mean}, {@code running_var =
 * (1 - momentum) * running_var + momentum * var * n / (n - 1)} (unbiased). In eval mode the running statistics are
 * used. {@link #backward} gives the input gradient and stores the parameter gradients in {@link #weightGrad()} and
 * {@link #biasGrad()} (overwritten, not accumulated).
 *
 * <pre>{@code
 * try (BatchNorm bn = BatchNorm.builder(64).momentum(0.1).build();
 *      Tensor y = bn.forward(x);
 *      Tensor dx = bn.backward(dy)) { ... }
 * }</pre>
 *
 * <p>Thread safety: eval-mode forward calls may run concurrently; training-mode forward and backward are
 * serialized on the layer (they update running and saved statistics), and backward uses the input of the most
 * recent forward call.
 */
public final class BatchNorm extends AbstractLayer {
  private final long numFeatures;
  private final double eps;
  private final double momentum;
  private final boolean trackRunningStats;
  private final Backend backend;
  private final Tensor weight, bias, weightGrad, biasGrad;
  private final Tensor runningMean, runningVar;
  private final Tensor saveMean, saveVar;
  private volatile boolean training = true;
  private volatile Tensor lastInput;
  private volatile boolean lastUsedBatchStats;

  private BatchNorm(Builder b) {
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
    this.saveMean = own(filledVector(numFeatures, 0f));
    this.saveVar = own(filledVector(numFeatures, 0f));
  }

  /** A builder for a batch norm over {@code numFeatures} channels. */
  public static Builder builder(long numFeatures) {
    return new Builder(numFeatures);
  }

  /** y = BN(x) in a new tensor (x's shape and layout). */
  public Tensor forward(Tensor x) {
    Checks.activation(x, "input");
    return newOutput(x.shape(), x.layout(), y -> forward(x, y));
  }

  /** y = BN(x) into {@code y} (x's shape and layout); allocates nothing. */
  public void forward(Tensor x, Tensor y) {
    checkOpen();
    checkChannels(x, numFeatures);
    if (training || !trackRunningStats) {
      synchronized (this) {
        Functional.batchNorm(backend, x, training ? runningMean : null, training ? runningVar : null, weight, bias,
            true, momentum, eps, y, saveMean, saveVar);
        lastUsedBatchStats = true;
        lastInput = x;
      }
    } else {
      Functional.batchNorm(backend, x, runningMean, runningVar, weight, bias, false, momentum, eps, y, null, null);
      lastUsedBatchStats = false;
      lastInput = x;
    }
  }

  /** dx for the most recent forward input, in a new tensor; parameter gradients go to weightGrad/biasGrad. */
  public Tensor backward(Tensor dy) {
    Tensor x = inputForBackward();
    return newOutput(x.shape(), x.layout(), dx -> backward(dy, dx));
  }

  /** dx into {@code dx}; parameter gradients go to weightGrad/biasGrad. */
  public synchronized void backward(Tensor dy, Tensor dx) {
    Tensor x = inputForBackward();
    boolean batchStats = lastUsedBatchStats;
    Functional.batchNormBackward(backend, x, dy, weight, batchStats ? saveMean : runningMean,
        batchStats ? saveVar : runningVar, batchStats, eps, dx, weightGrad, biasGrad);
  }

  private Tensor inputForBackward() {
    checkOpen();
    Tensor x = lastInput;
    if (x == null) throw new IllegalStateException("BatchNorm.backward called before forward");
    return x;
  }

  /** Training mode: batch statistics, running statistics updated. The default. */
  public BatchNorm train() {
    checkOpen();
    training = true;
    return this;
  }

  /** Eval mode: running statistics (if tracked). */
  public BatchNorm eval() {
    checkOpen();
    training = false;
    return this;
  }

  public boolean isTraining() {
    return training;
  }

  public long numFeatures() { return numFeatures; }
  public double eps() { return eps; }
  public double momentum() { return momentum; }
  public Backend backend() { return backend; }

  /** gamma, shape (C); null without affine. Writable: load trained values with {@code copyFrom}. */
  public Tensor weight() { checkOpen(); return weight; }
  /** beta, shape (C); null without affine. */
  public Tensor bias() { checkOpen(); return bias; }
  /** d loss / d weight from the latest backward; null without affine. */
  public Tensor weightGrad() { checkOpen(); return weightGrad; }
  /** d loss / d bias from the latest backward; null without affine. */
  public Tensor biasGrad() { checkOpen(); return biasGrad; }
  /** Running mean, shape (C), initially 0; null when not tracked. */
  public Tensor runningMean() { checkOpen(); return runningMean; }
  /** Running (unbiased) variance, shape (C), initially 1; null when not tracked. */
  public Tensor runningVar() { checkOpen(); return runningVar; }
  /** The batch mean of the latest training forward, shape (C). */
  public Tensor savedMean() { checkOpen(); return saveMean; }
  /** The batch (biased) variance of the latest training forward, shape (C). */
  public Tensor savedVar() { checkOpen(); return saveVar; }

  /** Settings of a {@link BatchNorm}; defaults as PyTorch: eps 1e-5, momentum 0.1, affine, tracking. */
  public static final class Builder {
    private final long numFeatures;
    private double eps = 1e-5;
    private double momentum = 0.1;
    private boolean affine = true;
    private boolean trackRunningStats = true;
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

    public BatchNorm build() {
      return new BatchNorm(this);
    }
  }
}
