package dev.normkit.backend.reference;

import static dev.normkit.backend.reference.LogicalArrays.read;
import static dev.normkit.backend.reference.LogicalArrays.readOptional;
import static dev.normkit.backend.reference.LogicalArrays.write;

import dev.normkit.Conv2dSpec;
import dev.normkit.Shape;
import dev.normkit.Tensor;
import dev.normkit.backend.ConvolutionKernel;

/**
 * 2-D convolution in double precision with PyTorch's semantics (cross-correlation, zero padding, dilation, groups):
 *
 * <pre>
 * y[n, o, i, j] = bias[o] + sum over c' &lt; C/G, a &lt; kH, b &lt; kW of
 *                 x[n, g * C/G + c', i * sH - pH + a * dH, j * sW - pW + b * dW] * w[o, c', a, b],  g = o / (O/G)
 * </pre>
 *
 * with out-of-range x positions reading zero. Every pass walks the same (y, x, w) index triples ({@link Taps}):
 * forward accumulates x * w into y, backward-data dy * w into dx, backward-weights x * dy into dw; dbias sums dy.
 */
public final class ReferenceConvolution implements ConvolutionKernel {
  public static final ReferenceConvolution INSTANCE = new ReferenceConvolution();

  private ReferenceConvolution() {}

  @Override
  public void forward(Tensor x, Tensor w, Tensor bias, Conv2dSpec spec, Tensor y) {
    write(y, forward(read(x), x.shape(), read(w), w.shape(), readOptional(bias), spec));
  }

  @Override
  public void backwardData(Tensor dy, Tensor w, Conv2dSpec spec, Tensor dx) {
    write(dx, backwardData(read(dy), read(w), dx.shape(), w.shape(), spec));
  }

  @Override
  public void backwardWeights(Tensor x, Tensor dy, Conv2dSpec spec, Tensor dw, Tensor dbias) {
    double[] dys = read(dy);
    if (dw != null) write(dw, backwardWeights(read(x), dys, x.shape(), dw.shape(), spec));
    if (dbias != null) write(dbias, biasGradient(dys, dy.shape()));
  }

  /** y from x (N, C, H, W) and w (O, C/G, kH, kW), bias (O) or null; arrays in logical C order. */
  static double[] forward(double[] x, Shape xShape, double[] w, Shape wShape, double[] bias, Conv2dSpec spec) {
    Taps taps = new Taps(xShape, wShape, spec);
    double[] y = new double[Math.toIntExact(taps.out.elementCount())];
    if (bias != null) {
      for (int i = 0; i < y.length; i++) y[i] = bias[outputChannel(taps.out, i)];
    }
    taps.forEach((yi, xi, wi) -> y[yi] += x[xi] * w[wi]);
    return y;
  }

  /** dx[xi] = sum of dy[yi] * w[wi] over the taps reading x[xi]. */
  static double[] backwardData(double[] dy, double[] w, Shape xShape, Shape wShape, Conv2dSpec spec) {
    double[] dx = new double[Math.toIntExact(xShape.elementCount())];
    new Taps(xShape, wShape, spec).forEach((yi, xi, wi) -> dx[xi] += dy[yi] * w[wi]);
    return dx;
  }

  /** dw[wi] = sum of x[xi] * dy[yi] over the taps using w[wi]. */
  static double[] backwardWeights(double[] x, double[] dy, Shape xShape, Shape wShape, Conv2dSpec spec) {
    double[] dw = new double[Math.toIntExact(wShape.elementCount())];
    new Taps(xShape, wShape, spec).forEach((yi, xi, wi) -> dw[wi] += x[xi] * dy[yi]);
    return dw;
  }

  /** dbias[o] = sum of dy over n, i, j. */
  static double[] biasGradient(double[] dy, Shape yShape) {
    double[] db = new double[Math.toIntExact(yShape.channels())];
    for (int i = 0; i < dy.length; i++) db[outputChannel(yShape, i)] += dy[i];
    return db;
  }

  /** The channel of the logical index i of an (N, O, OH, OW) tensor. */
  private static int outputChannel(Shape out, int i) {
    return (int) ((i / out.spatialSize()) % out.channels());
  }

  /** One term of a convolution sum: y (or dy) index, x (or dx) index, w (or dw) index, all logical. */
  @FunctionalInterface
  private interface Tap {
    void accept(int yi, int xi, int wi);
  }

  /** The geometry of one convolution and the walk over all its (y, x, w) index triples with x inside the input. */
  private static final class Taps {
    final Shape in;
    final Shape weight;
    final Shape out;
    final Conv2dSpec spec;

    Taps(Shape in, Shape weight, Conv2dSpec spec) {
      this.in = in;
      this.weight = weight;
      this.spec = spec;
      this.out = spec.outputShape(in, weight);
    }

    void forEach(Tap tap) {
      int n = (int) in.dim(0), c = (int) in.dim(1), h = (int) in.dim(2), w = (int) in.dim(3);
      int o = (int) weight.dim(0), cg = (int) weight.dim(1), kh = (int) weight.dim(2), kw = (int) weight.dim(3);
      int oh = (int) out.dim(2), ow = (int) out.dim(3);
      int og = o / spec.groups();
      for (int sample = 0; sample < n; sample++) {
        for (int oc = 0; oc < o; oc++) {
          int group = oc / og;
          for (int oy = 0; oy < oh; oy++) {
            for (int ox = 0; ox < ow; ox++) {
              int yi = ((sample * o + oc) * oh + oy) * ow + ox;
              for (int ic = 0; ic < cg; ic++) {
                int xc = group * cg + ic;
                for (int ky = 0; ky < kh; ky++) {
                  int iy = oy * spec.strideH() - spec.padH() + ky * spec.dilationH();
                  if (iy < 0 || iy >= h) continue;
                  for (int kx = 0; kx < kw; kx++) {
                    int ix = ox * spec.strideW() - spec.padW() + kx * spec.dilationW();
                    if (ix < 0 || ix >= w) continue;
                    tap.accept(yi, ((sample * c + xc) * h + iy) * w + ix, ((oc * cg + ic) * kh + ky) * kw + kx);
                  }
                }
              }
            }
          }
        }
      }
    }
  }
}
