package dev.normkit.cli;

import dev.normkit.Backend;
import dev.normkit.Layout;
import dev.normkit.Shape;
import dev.normkit.Tensor;
import java.util.ArrayList;
import java.util.List;

/**
 * One op bound to its {@link OpInputs} and a {@link Backend}, with the tensors it writes: {@link #forward()} fills
 * {@code y} (and the running statistics, which start as copies of the inputs' and are updated in training), then
 * {@link #backward()} fills {@code dx} and, when asked for, the parameter gradients. Every call goes through
 * {@link dev.normkit.Functional}'s full forms, which validate all arguments before any kernel runs. The inputs are
 * never modified. Closing frees the tensors this object allocated (not the inputs).
 */
abstract class OpExecution implements AutoCloseable {
  final Backend backend;
  final OpInputs in;
  final double eps;
  /** The statistics the forward pass saves for backward (normalizations only). */
  Tensor saveMean;
  Tensor saveVar;
  Tensor y;
  Tensor runningMean;
  Tensor runningVar;
  Tensor dx;
  Tensor dweight;
  Tensor dbias;
  Tensor dgain;
  private final List<Tensor> owned = new ArrayList<>();

  OpExecution(Backend backend, OpInputs in, double eps) {
    this.backend = backend;
    this.in = in;
    this.eps = eps;
  }

  /** Runs the forward pass into {@code y} (and the running statistics). */
  abstract void forward();

  /** Runs the backward pass from {@code in.gradOutput} after {@link #forward()}. */
  abstract void backward();

  /** The outputs of the last forward pass, for comparisons: y first, then running statistics where present. */
  List<Tensor> forwardOutputs() {
    return present(y, runningMean, runningVar);
  }

  /** The outputs of the last backward pass: dx first, then the parameter gradients that were computed. */
  List<Tensor> backwardOutputs() {
    return present(dx, dweight, dbias, dgain);
  }

  /** A new tensor freed on {@link #close()}. */
  final Tensor allocate(Shape shape, Layout layout) {
    Tensor t = Tensor.empty(shape, layout);
    owned.add(t);
    return t;
  }

  /** A copy of an optional input, freed on {@link #close()}; null for null. */
  final Tensor copyOf(Tensor input) {
    if (input == null) return null;
    Tensor t = input.copy();
    owned.add(t);
    return t;
  }

  /**
   * For a normalization: y like x, the saved statistics of shape {@code stats} (null: none), and with a gradOutput
   * dx like x and, when {@code parameterGradients} and the op has affine parameters, dweight and dbias like weight.
   */
  final void allocateNormalization(Shape stats, boolean parameterGradients) {
    Shape x = in.x.shape();
    y = allocate(x, in.x.layout());
    if (stats != null) {
      saveMean = allocate(stats, Layout.CHANNELS_FIRST);
      saveVar = allocate(stats, Layout.CHANNELS_FIRST);
    }
    if (in.gradOutput == null) return;
    dx = allocate(x, in.x.layout());
    if (parameterGradients && in.weight != null) {
      dweight = allocate(in.weight.shape(), in.weight.layout());
      dbias = allocate(in.weight.shape(), in.weight.layout());
    }
  }

  private static List<Tensor> present(Tensor... tensors) {
    List<Tensor> list = new ArrayList<>();
    for (Tensor t : tensors) if (t != null) list.add(t);
    return list;
  }

  @Override
  public void close() {
    for (Tensor t : owned) t.close();
    owned.clear();
  }
}
