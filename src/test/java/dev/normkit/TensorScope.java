package dev.normkit;

import java.util.ArrayList;
import java.util.List;

/** The tensors of one test case, closed together at its end. */
final class TensorScope implements AutoCloseable {
  private final List<Tensor> tensors = new ArrayList<>();

  Tensor of(float[] logical, Shape shape, Layout layout) {
    return add(Tensor.of(logical, shape, layout));
  }

  Tensor vector(float[] values) {
    return add(Tensor.vector(values));
  }

  /** A zero-filled tensor, or null when {@code wanted} is false (for optional outputs). */
  Tensor zeros(Shape shape, Layout layout, boolean wanted) {
    return wanted ? add(Tensor.zeros(shape, layout)) : null;
  }

  Tensor zeros(Shape shape, Layout layout) {
    return zeros(shape, layout, true);
  }

  Tensor zeros(Shape shape) {
    return zeros(shape, Layout.CHANNELS_FIRST, true);
  }

  private Tensor add(Tensor t) {
    tensors.add(t);
    return t;
  }

  @Override
  public void close() {
    for (Tensor t : tensors) t.close();
  }
}
