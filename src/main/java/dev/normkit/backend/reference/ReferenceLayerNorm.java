package dev.normkit.backend.reference;

import dev.normkit.Shape;
import dev.normkit.Tensor;
import dev.normkit.backend.LayerNormKernel;

/**
 * Layer norm in double precision: one statistics set per leading index over the trailing normalized dims, with
 * elementwise parameters indexed by the position inside the normalized shape.
 */
public final class ReferenceLayerNorm implements LayerNormKernel {
  public static final ReferenceLayerNorm INSTANCE = new ReferenceLayerNorm();

  private ReferenceLayerNorm() {}

  static NormalizationSets sets(Shape s, int normalizedDims) {
    int d = Math.toIntExact(s.product(s.rank() - normalizedDims, s.rank()));
    int total = Math.toIntExact(s.elementCount());
    int[] set = new int[total];
    int[] param = new int[total];
    for (int i = 0; i < total; i++) {
      set[i] = i / d;
      param[i] = i % d;
    }
    return new NormalizationSets(set, param, d == 0 ? 0 : total / d);
  }

  @Override
  public void forward(
      Tensor x, int normalizedDims, Tensor gamma, Tensor beta, double eps, Tensor y, Tensor mean, Tensor var) {
    sets(x.shape(), normalizedDims).forwardTraining(x, gamma, beta, eps, y, mean, var);
  }

  @Override
  public void backward(
      Tensor x,
      Tensor dy,
      int normalizedDims,
      Tensor gamma,
      Tensor mean,
      Tensor var,
      double eps,
      Tensor dx,
      Tensor dgamma,
      Tensor dbeta) {
    int d = Math.toIntExact(x.shape().product(x.shape().rank() - normalizedDims, x.shape().rank()));
    sets(x.shape(), normalizedDims).backward(x, dy, gamma, mean, var, eps, d, false, dx, dgamma, dbeta);
  }
}
