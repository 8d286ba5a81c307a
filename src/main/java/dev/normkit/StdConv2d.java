package dev.normkit;

import java.util.SplittableRandom;

/**
 * A 2-D convolution whose weight is standardized on the fly (the "WS" of GN+WS, the seed's {@code Conv2d}; timm's
 * {@code StdConv2d}):
 *
 * <pre>
 *   y = conv2d(x, WS(w), bias, stride, padding, dilation, groups)
 * </pre>
 *
 * with WS in the chosen {@link WsVariant} (default SEED). The convolution runs on oneDNN (native backend) and the
 * weight gradient flows back through WS: {@code dw = WS'(w)^T conv2d_backward_weights(x, dy)}. Weights are
 * initialised as PyTorch's Conv2d (uniform in +-1/sqrt(fan_in), seeded). Gradients of the latest backward are in
 * {@link #weightGrad()} / {@link #biasGrad()} (overwritten, not accumulated).
 *
 * <p>Thread safety: forward and backward are serialized on the layer.
 */
public final class StdConv2d extends AbstractLayer {
  private final Conv2dSpec spec;
  private final Backend backend;
  private final WeightStandardization ws;
  private final Tensor weight, bias, weightGrad, biasGrad;
  private final Tensor standardized, standardizedGrad;
  private Tensor lastInput;

  private StdConv2d(Builder b) {
    this.spec = Conv2dSpec.of(b.stride, b.padding, b.dilation, b.groups);
    this.backend = b.backend;
    Shape wShape = Shape.of(b.outChannels, b.inChannels / b.groups, b.kernelSize, b.kernelSize);
    long fanIn = wShape.product(1, 4);
    double bound = 1.0 / Math.sqrt(fanIn);
    SplittableRandom random = new SplittableRandom(b.seed);
    this.weight = own(uniform(wShape, bound, random));
    this.bias = own(b.bias ? uniform(Shape.of(b.outChannels), bound, random) : null);
    this.weightGrad = own(Tensor.zeros(wShape));
    this.biasGrad = own(b.bias ? Tensor.zeros(Shape.of(b.outChannels)) : null);
    this.standardized = own(Tensor.zeros(wShape));
    this.standardizedGrad = own(Tensor.zeros(wShape));
    WeightStandardization.Builder wsb =
        WeightStandardization.builder(b.outChannels).variant(b.variant).gamma(b.gamma).backend(b.backend);
    if (!Double.isNaN(b.eps)) wsb.eps(b.eps);
    this.ws = wsb.build();
  }

  /** The most elements of a weight the builder initialises (a Java array's limit). */
  static final long MAX_INITIALISED_WEIGHT = Integer.MAX_VALUE - 8;

  private static Tensor uniform(Shape shape, double bound, SplittableRandom random) {
    float[] v = new float[Math.toIntExact(shape.elementCount())];
    for (int i = 0; i < v.length; i++) v[i] = (float) ((2 * random.nextDouble() - 1) * bound);
    return Tensor.of(v, shape);
  }

  /** A builder for in -&gt; out channels with a square kernel. */
  public static Builder builder(long inChannels, long outChannels, int kernelSize) {
    return new Builder(inChannels, outChannels, kernelSize);
  }

  /** The output shape for an input shape. */
  public Shape outputShape(Shape input) {
    return spec.outputShape(input, weight.shape());
  }

  /** y in a new tensor (x's layout). */
  public Tensor forward(Tensor x) {
    Checks.notNull(x, "input").checkOpen();
    return newOutput(outputShape(x.shape()), x.layout(), y -> forward(x, y));
  }

  /** y into {@code y}: standardizes the weight, then convolves. */
  public synchronized void forward(Tensor x, Tensor y) {
    checkOpen();
    Checks.notNull(x, "input").checkOpen();
    spec.validate(x.shape(), weight.shape());
    ws.forward(weight, standardized);
    Functional.conv2d(backend, x, standardized, bias, spec, y);
    lastInput = x;
  }

  /** dx for the most recent forward input, in a new tensor; weight and bias gradients are stored. */
  public Tensor backward(Tensor dy) {
    Tensor x = inputForBackward();
    return newOutput(x.shape(), x.layout(), dx -> backward(dy, dx));
  }

  /**
   * dx into {@code dx} (may be null when only parameter gradients are wanted, e.g. for a first layer); weightGrad
   * gets dw through WS, biasGrad the sum of dy.
   */
  public synchronized void backward(Tensor dy, Tensor dx) {
    Tensor x = inputForBackward();
    Functional.conv2dBackward(backend, x, standardized, dy, spec, dx, standardizedGrad, biasGrad);
    ws.backward(standardizedGrad, weightGrad);
  }

  private synchronized Tensor inputForBackward() {
    checkOpen();
    if (lastInput == null) throw new IllegalStateException("StdConv2d.backward called before forward");
    return lastInput;
  }

  public Conv2dSpec spec() { return spec; }
  public WsVariant variant() { return ws.variant(); }
  public Backend backend() { return backend; }
  /** The raw weight (O, C / groups, k, k); writable. */
  public Tensor weight() { checkOpen(); return weight; }
  /** Bias (O), or null. */
  public Tensor bias() { checkOpen(); return bias; }
  public Tensor weightGrad() { checkOpen(); return weightGrad; }
  public Tensor biasGrad() { checkOpen(); return biasGrad; }
  /** The standardized weight used by the latest forward. */
  public Tensor standardizedWeight() { checkOpen(); return standardized; }
  /** The weight standardization (its gain and gain gradient for SCALED). */
  public WeightStandardization weightStandardization() { checkOpen(); return ws; }

  @Override
  public void close() {
    ws.close();
    super.close();
  }

  /** Settings of a {@link StdConv2d}; defaults: stride 1, padding 0, dilation 1, groups 1, bias, SEED. */
  public static final class Builder {
    private final long inChannels, outChannels;
    private final int kernelSize;
    private int stride = 1, padding = 0, dilation = 1, groups = 1;
    private boolean bias = true;
    private WsVariant variant = WsVariant.SEED;
    private double eps = Double.NaN;
    private double gamma = 1.0;
    private long seed = 0;
    private Backend backend = Backend.defaultBackend();

    private Builder(long inChannels, long outChannels, int kernelSize) {
      Checks.argument(inChannels >= 1, "inChannels must be >= 1, got " + inChannels);
      Checks.argument(outChannels >= 1, "outChannels must be >= 1, got " + outChannels);
      Checks.argument(kernelSize >= 1, "kernelSize must be >= 1, got " + kernelSize);
      this.inChannels = inChannels;
      this.outChannels = outChannels;
      this.kernelSize = kernelSize;
    }

    public Builder stride(int stride) { this.stride = stride; return this; }
    public Builder padding(int padding) { this.padding = padding; return this; }
    public Builder dilation(int dilation) { this.dilation = dilation; return this; }
    public Builder groups(int groups) { this.groups = groups; return this; }
    public Builder bias(boolean bias) { this.bias = bias; return this; }
    public Builder variant(WsVariant variant) { this.variant = Checks.notNull(variant, "variant"); return this; }
    public Builder eps(double eps) { this.eps = Checks.eps(eps); return this; }
    public Builder gamma(double gamma) { this.gamma = gamma; return this; }
    /** Seed of the weight initialisation. */
    public Builder seed(long seed) { this.seed = seed; return this; }
    public Builder backend(Backend backend) { this.backend = Checks.notNull(backend, "backend"); return this; }

    public StdConv2d build() {
      Conv2dSpec.of(stride, padding, dilation, groups);
      Checks.argument(inChannels % groups == 0, "inChannels " + inChannels + " not divisible by groups " + groups);
      Checks.argument(outChannels % groups == 0, "outChannels " + outChannels + " not divisible by groups " + groups);
      // the weight is initialised through a Java array
      long weightElements = Shape.of(outChannels, inChannels / groups, kernelSize, kernelSize).elementCount();
      Checks.argument(weightElements <= MAX_INITIALISED_WEIGHT, "weight (" + outChannels + ", " + inChannels / groups
          + ", " + kernelSize + ", " + kernelSize + ") has " + weightElements + " elements, more than the "
          + MAX_INITIALISED_WEIGHT + " a StdConv2d can initialise");
      return new StdConv2d(this);
    }
  }
}
