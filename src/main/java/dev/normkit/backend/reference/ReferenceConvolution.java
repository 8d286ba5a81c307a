package dev.normkit.backend.reference;

import static dev.normkit.backend.reference.LogicalArrays.read;
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
    Taps taps = new Taps(x.shape(), w.shape(), spec);
    double[] xs = read(x), ws = read(w);
    double[] ys = new double[Math.toIntExact(taps.out.elementCount())];
    if (bias != null) {
      double[] b = read(bias);
      for (int i = 0; i < ys.length; i++) ys[i] = b[outputChannel(taps.out, i)];
    }
    taps.forEach((yi, xi, wi) -> ys[yi] += xs[xi] * ws[wi]);
    write(y, ys);
  }

  @Override
  public void backwardData(Tensor dy, Tensor w, Conv2dSpec spec, Tensor dx) {
    Taps taps = new Taps(dx.shape(), w.shape(), spec);
    double[] dys = read(dy), ws = read(w);
    double[] dxs = new double[Math.toIntExact(dx.elementCount())];
    taps.forEach((yi, xi, wi) -> dxs[xi] += dys[yi] * ws[wi]);
    write(dx, dxs);
  }

  @Override
  public void backwardWeights(Tensor x, Tensor dy, Conv2dSpec spec, Tensor dw, Tensor dbias) {
    double[] dys = read(dy);
    if (dw != null) {
      double[] xs = read(x);
      double[] dws = new double[Math.toIntExact(dw.elementCount())];
      new Taps(x.shape(), dw.shape(), spec).forEach((yi, xi, wi) -> dws[wi] += xs[xi] * dys[yi]);
      write(dw, dws);
    }
    if (dbias != null) {
      double[] db = new double[Math.toIntExact(dy.shape().channels())];
      for (int i = 0; i < dys.length; i++) db[outputChannel(dy.shape(), i)] += dys[i];
      write(dbias, db);
    }
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
