package dev.normkit.backend.reference;

import dev.normkit.Shape;
import dev.normkit.Tensor;
import dev.normkit.backend.GroupNormKernel;

/** Group norm in double precision: one statistics set per (n, group of C / G consecutive channels). */
public final class ReferenceGroupNorm implements GroupNormKernel {
  public static final ReferenceGroupNorm INSTANCE = new ReferenceGroupNorm();

  private ReferenceGroupNorm() {}

  static NormalizationSets sets(Shape s, int groups) {
    int c = Math.toIntExact(s.channels());
    int perGroup = c / groups;
    int sets = Math.toIntExact(s.batch() * groups);
    return NormalizationSets.perChannel(s.batch(), c, s.spatialSize(), sets, (n, ch) -> n * groups + ch / perGroup);
  }

  @Override
  public void forward(Tensor x, int groups, Tensor gamma, Tensor beta, double eps, Tensor y, Tensor mean, Tensor var) {
    sets(x.shape(), groups).forwardTraining(x, gamma, beta, eps, y, mean, var);
  }

  @Override
  public void backward(
      Tensor x,
      Tensor dy,
      int groups,
      Tensor gamma,
      Tensor mean,
      Tensor var,
      double eps,
      Tensor dx,
      Tensor dgamma,
      Tensor dbeta) {
    int c = Math.toIntExact(x.shape().channels());
    sets(x.shape(), groups).backward(x, dy, gamma, mean, var, eps, c, false, dx, dgamma, dbeta);
  }
}
