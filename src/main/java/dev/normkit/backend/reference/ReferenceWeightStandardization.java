package dev.normkit.backend.reference;

import static dev.normkit.backend.reference.LogicalArrays.read;
import static dev.normkit.backend.reference.LogicalArrays.readOptional;
import static dev.normkit.backend.reference.LogicalArrays.write;

import dev.normkit.Tensor;
import dev.normkit.WsVariant;
import dev.normkit.backend.WeightStandardizationKernel;

/**
 * Weight standardization in double precision, per filter o over its K values (Qiao et al., 2019; SCALED: Brock et
 * al., 2021), straight from the definitions:
 *
 * <pre>
 *   mean = sum(w) / K,   u = w - mean,   M2 = sum(u^2)
 *   SEED:              sigma = sqrt(M2 / (K - 1)),   rstd = 1 / (sigma + eps)
 *   BATCH_NORM_STYLE:  rstd = 1 / sqrt(M2 / K + eps)
 *   SCALED:            rstd as BATCH_NORM_STYLE,   f = gain[o] * gamma / sqrt(K)   (f = 1 for the others)
 *   wHat = f * rstd * u
 * </pre>
 *
 * The backward is the chain rule written out, from the forward's saved mean and rstd, with h = f * dwHat:
 *
 * <pre>
 *   dL/du_i   = rstd * h_i + 2 * u_i * drstd/dM2 * sum_j(h_j * u_j)       (through u directly and through M2)
 *   dw_i      = dL/du_i - mean_j(dL/du_j)                                  (through the mean)
 *   drstd/dM2 = -rstd^2 / (2 * sigma * (K - 1))   SEED; 0 when sigma = 0, as PyTorch's std backward
 *             = -rstd^3 / (2 * K)                 BATCH_NORM_STYLE, SCALED
 *   dgain     = gamma / sqrt(K) * rstd * sum(dwHat * u)                     SCALED
 * </pre>
 *
 * SEED's sigma is recomputed from u rather than from 1 / rstd - eps, which loses it when sigma is near eps.
 */
public final class ReferenceWeightStandardization implements WeightStandardizationKernel {
  public static final ReferenceWeightStandardization INSTANCE = new ReferenceWeightStandardization();

  private ReferenceWeightStandardization() {}

  /** The forward's outputs: wHat (O * K values), mean and rstd (O each). */
  public static final class Forward {
    public final double[] wHat;
    public final double[] mean;
    public final double[] rstd;

    Forward(double[] wHat, double[] mean, double[] rstd) {
      this.wHat = wHat;
      this.mean = mean;
      this.rstd = rstd;
    }
  }

  /** The backward's outputs: dw (O * K values) and dgain (O; meaningful for SCALED). */
  public static final class Backward {
    public final double[] dw;
    public final double[] dgain;

    Backward(double[] dw, double[] dgain) {
      this.dw = dw;
      this.dgain = dgain;
    }
  }

  /** The forward on {@code filters} filters of w.length / filters values each; gain null means ones. */
  public static Forward forward(double[] w, int filters, WsVariant variant, double eps, double gamma, double[] gain) {
    int k = w.length / filters;
    double[] wHat = new double[w.length];
    double[] mean = new double[filters];
    double[] rstd = new double[filters];
    for (int o = 0; o < filters; o++) {
      int base = o * k;
      double sum = 0;
      for (int i = 0; i < k; i++) sum += w[base + i];
      mean[o] = sum / k;
      double m2 = 0;
      for (int i = 0; i < k; i++) m2 += square(w[base + i] - mean[o]);
      rstd[o] = variant == WsVariant.SEED ? 1 / (Math.sqrt(m2 / (k - 1)) + eps) : 1 / Math.sqrt(m2 / k + eps);
      double f = factor(variant, gamma, gain, o, k);
      for (int i = 0; i < k; i++) wHat[base + i] = f * rstd[o] * (w[base + i] - mean[o]);
    }
    return new Forward(wHat, mean, rstd);
  }

  /** The backward from the forward's {@code mean} and {@code rstd}; gain null means ones. */
  public static Backward backward(
      double[] w,
      double[] dwHat,
      int filters,
      WsVariant variant,
      double eps,
      double gamma,
      double[] gain,
      double[] mean,
      double[] rstd) {
    int k = w.length / filters;
    double[] dw = new double[w.length];
    double[] dgain = new double[filters];
    for (int o = 0; o < filters; o++) {
      int base = o * k;
      double r = rstd[o];
      double f = factor(variant, gamma, gain, o, k);
      double[] u = new double[k];
      double m2 = 0;
      double dwHatU = 0;
      for (int i = 0; i < k; i++) {
        u[i] = w[base + i] - mean[o];
        m2 += u[i] * u[i];
        dwHatU += dwHat[base + i] * u[i];
      }
      double drstdDm2;
      if (variant == WsVariant.SEED) {
        double sigma = Math.sqrt(m2 / (k - 1));
        drstdDm2 = sigma > 0 ? -r * r / (2 * sigma * (k - 1)) : 0;
      } else {
        drstdDm2 = -r * r * r / (2.0 * k);
      }
      double[] du = new double[k];
      double duMean = 0;
      for (int i = 0; i < k; i++) {
        du[i] = r * f * dwHat[base + i] + 2 * u[i] * drstdDm2 * f * dwHatU;
        duMean += du[i] / k;
      }
      for (int i = 0; i < k; i++) dw[base + i] = du[i] - duMean;
      dgain[o] = gamma / Math.sqrt(k) * r * dwHatU;
    }
    return new Backward(dw, dgain);
  }

  @Override
  public void forward(
      Tensor w, WsVariant variant, double eps, double gamma, Tensor gain, Tensor wHat, Tensor mean, Tensor rstd) {
    Forward f = forward(read(w), filters(w), variant, eps, gamma, readOptional(gain));
    write(wHat, f.wHat);
    write(mean, f.mean);
    write(rstd, f.rstd);
  }

  @Override
  public void backward(
      Tensor w,
      Tensor dwHat,
      WsVariant variant,
      double eps,
      double gamma,
      Tensor gain,
      Tensor mean,
      Tensor rstd,
      Tensor dw,
      Tensor dgain) {
    Backward b =
        backward(read(w), read(dwHat), filters(w), variant, eps, gamma, readOptional(gain), read(mean), read(rstd));
    write(dw, b.dw);
    write(dgain, b.dgain);
  }

  /** f[o]: gain[o] * gamma / sqrt(K) for SCALED (gain null: ones), 1 for the other variants. */
  private static double factor(WsVariant variant, double gamma, double[] gain, int o, int k) {
    if (variant != WsVariant.SCALED) return 1;
    return (gain == null ? 1 : gain[o]) * gamma / Math.sqrt(k);
  }

  private static int filters(Tensor w) {
    return Math.toIntExact(w.shape().dim(0));
  }

  private static double square(double v) {
    return v * v;
  }
}
