package dev.normkit.cli;

import dev.normkit.Backend;
import dev.normkit.Conv2dSpec;
import dev.normkit.Functional;
import dev.normkit.Layout;
import dev.normkit.Shape;
import dev.normkit.Tensor;
import dev.normkit.WsVariant;

/**
 * A weight-standardized convolution (timm's StdConv2d / ScaledStdConv2d, GN+WS's conv): y = conv2d(x, WS(w), bias)
 * with {@code in.weight} the raw filter w (O, C / groups, kH, kW), contiguous; backward gives dx, and with the
 * parameter gradients dw (through the standardization), dbias and, for SCALED with a gain, dgain.
 */
final class StdConv2dExecution extends OpExecution {
  private final Conv2dSpec spec;
  private final OpInputs filter = new OpInputs();
  private final WeightStandardizationExecution standardization;
  private final Tensor dwHat;

  StdConv2dExecution(
      Backend backend,
      OpInputs in,
      Conv2dSpec spec,
      WsVariant variant,
      double eps,
      double gamma,
      boolean parameterGradients) {
    super(backend, in, eps);
    this.spec = spec;
    Shape out = spec.outputShape(in.x.shape(), in.weight.shape());
    y = allocate(out, in.x.layout());
    // the standardization sees the filter as its input; the shared tensors stay owned by `in`
    filter.x = in.weight;
    filter.gain = in.gain;
    boolean backward = in.gradOutput != null;
    if (backward) filter.gradOutput = allocate(in.weight.shape(), Layout.CHANNELS_FIRST);
    standardization =
        new WeightStandardizationExecution(backend, filter, variant, eps, gamma, backward && parameterGradients);
    dwHat = filter.gradOutput;
    if (backward) {
      dx = allocate(in.x.shape(), in.x.layout());
      if (parameterGradients) {
        dweight = standardization.dx;
        dgain = standardization.dgain;
        if (in.bias != null) dbias = allocate(Shape.of(in.weight.shape().dim(0)), Layout.CHANNELS_FIRST);
      }
    }
  }

  @Override
  void forward() {
    standardization.forward();
    Functional.conv2d(backend, in.x, standardization.standardized(), in.bias, spec, y);
  }

  @Override
  void backward() {
    Functional.conv2dBackward(backend, in.x, standardization.standardized(), in.gradOutput, spec, dx,
        dweight != null ? dwHat : null, dbias);
    if (dweight != null) standardization.backward();
  }

  @Override
  public void close() {
    standardization.close();
    super.close();
  }
}
