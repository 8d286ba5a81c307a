package dev.normkit;

/**
 * Layer normalization (Ba, Kiros &amp; Hinton, 2016) over the trailing dims given by the normalized shape D, per
 * leading index, as PyTorch's {@code LayerNorm}:
 *
 * <pre>
 *   y = (x - mean) / sqrt(var + eps) * weight + bias      mean, var (biased) over the D values of each row
 * </pre>
 *
 * with elementwise weight and bias of shape D. Gradients of the latest {@link #backward} are in
 * {@link #weightGrad()} and {@link #biasGrad()} (overwritten, not accumulated).
 *
 * <p>Thread safety: forward and backward are serialized on the layer (they write the saved statistics); backward
 * uses the input of the most recent forward call.
 */
public final class LayerNorm extends AbstractLayer {
  private final Shape normalizedShape;
  private final double eps;
  private final Backend backend;
  private final Tensor weight, bias, weightGrad, biasGrad;
  private final SavedStatistics saved = new SavedStatistics();
  private Tensor lastInput;

  private LayerNorm(Builder b) {
    this.normalizedShape = b.normalizedShape;
    this.eps = b.eps;
    this.backend = b.backend;
    boolean affine = b.elementwiseAffine;
    this.weight = own(affine ? filled(normalizedShape, 1f) : null);
    this.bias = own(affine ? filled(normalizedShape, 0f) : null);
    this.weightGrad = own(affine ? filled(normalizedShape, 0f) : null);
    this.biasGrad = own(affine ? filled(normalizedShape, 0f) : null);
  }

  private static Tensor filled(Shape shape, float value) {
    Tensor t = Tensor.zeros(shape, Layout.CHANNELS_FIRST);
    if (value != 0) t.fill(value);
    return t;
  }

  /** A builder for a layer norm over the trailing dims {@code normalizedShape}, e.g. {@code builder(768)}. */
  public static Builder builder(long... normalizedShape) {
    return new Builder(Shape.of(normalizedShape));
  }

  /** y = LN(x) in a new tensor. */
  public Tensor forward(Tensor x) {
    Checks.activation(x, "input");
    return newOutput(x.shape(), x.layout(), y -> forward(x, y));
  }

  /** y = LN(x) into {@code y}; allocates nothing once the statistics buffers fit x's leading dims. */
  public synchronized void forward(Tensor x, Tensor y) {
    checkOpen();
    Checks.activation(x, "input");
    if (!x.shape().endsWith(normalizedShape)) {
      throw new IllegalArgumentException(
          "normalizedShape " + normalizedShape + " is not the trailing dims of input shape " + x.shape());
    }
    Shape stats = Functional.layerNormStatisticsShape(x.shape(), normalizedShape);
    saved.prepare(stats);
    Functional.layerNorm(backend, x, normalizedShape, weight, bias, eps, y, saved.nextMean(), saved.nextVar());
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
    Functional.layerNormBackward(backend, x, dy, normalizedShape, weight, saved.mean(), saved.var(), eps, dx, weightGrad,
        biasGrad);
  }

  private synchronized Tensor inputForBackward() {
    checkOpen();
    if (lastInput == null) throw new IllegalStateException("LayerNorm.backward called before forward");
    return lastInput;
  }

  public Shape normalizedShape() { return normalizedShape; }
  public double eps() { return eps; }
  public Backend backend() { return backend; }
  /** gamma, of the normalized shape; null without affine. */
  public Tensor weight() { checkOpen(); return weight; }
  /** beta, of the normalized shape; null without affine. */
  public Tensor bias() { checkOpen(); return bias; }
  public Tensor weightGrad() { checkOpen(); return weightGrad; }
  public Tensor biasGrad() { checkOpen(); return biasGrad; }

  /** Settings of a {@link LayerNorm}; defaults as PyTorch: eps 1e-5, elementwise affine. */
  public static final class Builder {
    private final Shape normalizedShape;
    private double eps = 1e-5;
    private boolean elementwiseAffine = true;
    private Backend backend = Backend.defaultBackend();

    private Builder(Shape normalizedShape) {
      this.normalizedShape = normalizedShape;
    }

    public Builder eps(double eps) { this.eps = Checks.eps(eps); return this; }
    public Builder elementwiseAffine(boolean affine) { this.elementwiseAffine = affine; return this; }
    public Builder backend(Backend backend) { this.backend = Checks.notNull(backend, "backend"); return this; }

    public LayerNorm build() {
      return new LayerNorm(this);
    }
  }
}
