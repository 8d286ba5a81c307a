package dev.normkit.backend.routing;

import dev.normkit.Conv2dSpec;
import dev.normkit.Shape;
import dev.normkit.Tensor;
import dev.normkit.backend.ConvolutionKernel;
import dev.normkit.backend.dnnl.DnnlConvolution;
import dev.normkit.backend.kernels.NativeWinogradConvolution;

/**
 * Convolution for {@link dev.normkit.Backend#NATIVE}: Winograd's F(2x2, 3x3) ({@link NativeWinogradConvolution})
 * for the 3x3 convolutions it supports that are large enough to gain from it ({@link #usesWinograd}), oneDNN's direct
 * convolution ({@link DnnlConvolution}) for the rest.
 */
public final class RoutedConvolution implements ConvolutionKernel {
  public static final RoutedConvolution INSTANCE = new RoutedConvolution();

  /** Input and output channels below which the matrix products are too thin to gain. */
  static final long MIN_CHANNELS = 32;

  /**
   * Input times output channels below which the gain does not cover the transforms: each input and output value is
   * transformed once (cost per channel), the products cost per channel pair.
   */
  static final long MIN_CHANNEL_PAIRS = 2048;

  /**
   * Output positions (N * OH * OW) below which the weight's transform, per call and per channel pair, outweighs the
   * gain: it costs as much as the products over some hundred tiles of four positions.
   */
  static final long MIN_POSITIONS = 2048;

  private RoutedConvolution() {}

  /**
   * Whether a convolution of input {@code x} (N, C, H, W) to output {@code y} with weight {@code w} runs on Winograd:
   * one the kernel supports, activations of one layout, C and O at least {@link #MIN_CHANNELS}, C * O at least
   * {@link #MIN_CHANNEL_PAIRS}, and at least {@link #MIN_POSITIONS} output positions. Chosen by measurement: pad 1,
   * channels-last, one thread of a 2-core Zen 5 VM, Winograd's time over oneDNN's direct convolution, forward /
   * backward (data and weights), the two alternating in one process:
   *
   * <pre>
   * (N, C, H, W) -> O        positions   forward  backward
   * (32, 32, 14, 14) -> 64     6272       0.69     0.77    (the training example's second convolution, batch 32)
   * (1, 64, 56, 56) -> 64      3136       0.83     0.85
   * (4, 64, 28, 28) -> 64      3136       0.85     0.82
   * (1, 128, 56, 56) -> 128    3136       0.80     0.66
   * (16, 256, 14, 14) -> 256   3136       0.86     0.74
   * (8, 64, 14, 14) -> 64      1568       0.98     0.97
   * (2, 128, 28, 28) -> 128    1568       1.06     0.84
   * (1, 32, 64, 64) -> 32      4096       0.97     0.97
   * (2, 32, 32, 32) -> 32      2048       1.07     1.04
   * (2, 16, 64, 64) -> 16      8192       1.35     1.62
   * (4, 32, 14, 14) -> 64       784       1.33     1.03
   * (1, 256, 14, 14) -> 256     196       5.6      3.1
   * (1, 512, 7, 7) -> 512        49      11       7.4
   * </pre>
   */
  public static boolean usesWinograd(Tensor x, Tensor w, Tensor y, Conv2dSpec spec) {
    Shape xs = x.shape(), ys = y.shape();
    long c = xs.dim(1), o = ys.dim(1);
    return NativeWinogradConvolution.supports(w.shape(), w.isMemoryInLogicalOrder(), spec)
        && x.layout() == y.layout() && c >= MIN_CHANNELS && o >= MIN_CHANNELS && c * o >= MIN_CHANNEL_PAIRS
        && ys.dim(0) * ys.dim(2) * ys.dim(3) >= MIN_POSITIONS;
  }

  private static ConvolutionKernel kernel(Tensor x, Tensor w, Tensor y, Conv2dSpec spec) {
    return usesWinograd(x, w, y, spec) ? NativeWinogradConvolution.INSTANCE : DnnlConvolution.INSTANCE;
  }

  @Override
  public void forward(Tensor x, Tensor w, Tensor bias, Conv2dSpec spec, Tensor y) {
    kernel(x, w, y, spec).forward(x, w, bias, spec, y);
  }

  @Override
  public void backwardData(Tensor dy, Tensor w, Conv2dSpec spec, Tensor dx) {
    kernel(dx, w, dy, spec).backwardData(dy, w, spec, dx);
  }

  @Override
  public void backwardWeights(Tensor x, Tensor dy, Conv2dSpec spec, Tensor dw, Tensor dbias) {
    boolean winograd = dw != null && usesWinograd(x, dw, dy, spec);  // dbias alone: oneDNN's reduction
    (winograd ? NativeWinogradConvolution.INSTANCE : DnnlConvolution.INSTANCE).backwardWeights(x, dy, spec, dw, dbias);
  }
}
