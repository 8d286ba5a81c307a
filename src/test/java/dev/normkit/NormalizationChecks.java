package dev.normkit;

/**
 * The native-vs-reference checks every normalization test shares: training forward (y, mean, var), backward from the
 * reference's saved statistics (dx, dgamma, dbeta in every wanted combination), and bit-exact statistics on exact
 * inputs. An {@link Op} says how to call one normalization and how to bound its errors ({@link NormBounds}).
 */
final class NormalizationChecks {
  private NormalizationChecks() {}

  /** One normalization configured for one input shape (e.g. layer norm over two trailing dims). */
  interface Op {
    /** Names the op's error categories, e.g. "LN". */
    String name();

    /** What a failure message adds to the case, e.g. " groups 4". */
    String detail();

    Shape parameters(Shape x);

    Shape statistics(Shape x);

    void forward(Backend backend, Tensor x, Tensor gamma, Tensor beta, Tensor y, Tensor mean, Tensor var);

    void backward(
        Backend backend, Tensor x, Tensor dy, Tensor gamma, Tensor mean, Tensor var, Tensor dx, Tensor dgamma,
        Tensor dbeta);

    NormBounds bounds(Tensor x, Tensor dy, Tensor gamma, Tensor beta, Tensor mean, Tensor var);
  }

  /** An op's bounds in units of u * magnitude (NormBounds), as measured and stated by its test. */
  record Tolerances(double y, double mean, double var, double dx, double parameterGradients) {}

  static void forwardMatchesReference(Op op, NormCase c, Tolerances k) {
    Shape params = op.parameters(c.shape()), stats = op.statistics(c.shape());
    String detail = c + op.detail();
    try (Tensor x = c.x();
        Tensor g = c.gamma(params);
        Tensor b = c.beta(params);
        BackendPair y = BackendPair.of(c.shape(), c.layout());
        BackendPair mean = BackendPair.of(stats);
        BackendPair var = BackendPair.of(stats)) {
      for (Backend backend : Backend.values()) {
        op.forward(backend, x, g, b, y.get(backend), mean.get(backend), var.get(backend));
      }
      NormBounds bounds = op.bounds(x, null, g, b, mean.get(Backend.JAVA), var.get(Backend.JAVA));
      y.assertWithin(op.name() + " y", detail, bounds.y(), k.y());
      mean.assertWithin(op.name() + " mean", detail, bounds.mean(), k.mean());
      var.assertWithin(op.name() + " var", detail, bounds.variance(), k.var());
    }
  }

  /** Backward from the reference's saved statistics, for each of the case's wanted parameter gradients. */
  static void backwardMatchesReference(Op op, NormCase c, Tolerances k) {
    Shape params = op.parameters(c.shape()), stats = op.statistics(c.shape());
    try (Tensor x = c.x();
        Tensor dy = c.dy();
        Tensor g = c.gamma(params);
        Tensor b = c.beta(params);
        Tensor y = Tensor.empty(c.shape(), c.layout());
        Tensor mean = Tensor.empty(stats, Layout.CHANNELS_FIRST);
        Tensor var = Tensor.empty(stats, Layout.CHANNELS_FIRST)) {
      op.forward(Backend.JAVA, x, g, b, y, mean, var);
      NormBounds bounds = op.bounds(x, dy, g, b, mean, var);
      for (boolean[] want : c.parameterGradients()) {
        String detail = c + op.detail() + " dgamma " + want[0] + " dbeta " + want[1];
        try (BackendPair dx = BackendPair.of(c.shape(), c.layout());
            BackendPair dg = BackendPair.optional(want[0], params);
            BackendPair db = BackendPair.optional(want[1], params)) {
          for (Backend backend : Backend.values()) {
            op.backward(backend, x, dy, g, mean, var, dx.get(backend), BackendPair.get(dg, backend),
                BackendPair.get(db, backend));
          }
          dx.assertWithin(op.name() + " dx", detail, bounds.dxTraining(), k.dx());
          BackendPair.assertWithin(dg, op.name() + " dgamma", detail, bounds.dgamma(), k.parameterGradients());
          BackendPair.assertWithin(db, op.name() + " dbeta", detail, bounds.dbeta(), k.parameterGradients());
        }
      }
    }
  }

  /**
   * benchdnn's exact inputs (multiples of 0.25) over sets of a power-of-two number of values: the sums, the mean,
   * the deviations and their squares are all exact in float32, so mean and var must match bit for bit.
   */
  static void exactInputsGiveExactStatistics(Op op, NormCase c) {
    Shape stats = op.statistics(c.shape());
    try (Tensor x = c.x();
        Tensor y = Tensor.empty(c.shape(), c.layout());
        BackendPair mean = BackendPair.of(stats);
        BackendPair var = BackendPair.of(stats)) {
      for (Backend backend : Backend.values()) {
        op.forward(backend, x, null, null, y, mean.get(backend), var.get(backend));
      }
      mean.assertClose(op.name() + " exact mean", c + op.detail(), 0);
      var.assertClose(op.name() + " exact var", c + op.detail(), 0);
    }
  }
}
