package dev.normkit.backend.kernels;

import static dev.normkit.backend.kernels.NormkitKernels.check;
import static dev.normkit.backend.kernels.NormkitLibrary.*;

import dev.normkit.Conv2dSpec;
import dev.normkit.RetainedTensors;
import dev.normkit.Shape;
import dev.normkit.Tensor;
import dev.normkit.backend.ConvolutionKernel;
import dev.normkit.backend.ThreadPolicy;

/**
 * 3x3 convolutions of stride 1, dilation 1 and one group by Winograd's F(2x2, 3x3) on normkit's kernel
 * ({@code native/src/winograd.cpp}, its matrix products on oneDNN's sgemm): each 2x2 output tile is
 * A^T [sum over C of (G g G^T) .* (B^T d B)] A from a 4x4 input tile d, 2.25 times fewer multiplications than the
 * direct convolution. Only for the convolutions {@link #supports} accepts; inputs are validated by
 * {@link dev.normkit.Functional}.
 */
public final class NativeWinogradConvolution implements ConvolutionKernel {
  public static final NativeWinogradConvolution INSTANCE = new NativeWinogradConvolution();

  /** The largest padding: backward data pads dy by 2 - padding. */
  private static final int MAX_PADDING = 2;

  private NativeWinogradConvolution() {}

  /**
   * Whether the kernel computes this convolution: a 3x3 weight in logical (OIHW) order, stride 1, dilation 1, one
   * group, padding at most 2.
   */
  public static boolean supports(Shape w, boolean weightInLogicalOrder, Conv2dSpec spec) {
    return w.dim(2) == 3 && w.dim(3) == 3 && weightInLogicalOrder && spec.groups() == 1 && spec.strideH() == 1
        && spec.strideW() == 1 && spec.dilationH() == 1 && spec.dilationW() == 1 && spec.padH() <= MAX_PADDING
        && spec.padW() <= MAX_PADDING;
  }

  @Override
  public void forward(Tensor x, Tensor w, Tensor bias, Conv2dSpec spec, Tensor y) {
    ThreadPolicy.apply();
    Shape s = x.shape();
    try (RetainedTensors held = RetainedTensors.open()) {
      check(nk_winograd_conv_forward(held.pointer(x), held.pointer(w), held.pointer(bias), held.pointer(y), s.dim(0),
              s.dim(1), s.dim(2), s.dim(3), w.shape().dim(0), spec.padH(), spec.padW(), NormkitKernels.layout(x)),
          "Winograd convolution forward", s);
    }
  }

  @Override
  public void backwardData(Tensor dy, Tensor w, Conv2dSpec spec, Tensor dx) {
    ThreadPolicy.apply();
    Shape s = dx.shape();
    try (RetainedTensors held = RetainedTensors.open()) {
      check(nk_winograd_conv_backward_data(held.pointer(dy), held.pointer(w), held.pointer(dx), s.dim(0), s.dim(1),
              s.dim(2), s.dim(3), w.shape().dim(0), spec.padH(), spec.padW(), NormkitKernels.layout(dx)),
          "Winograd convolution backward data", s);
    }
  }

  @Override
  public void backwardWeights(Tensor x, Tensor dy, Conv2dSpec spec, Tensor dw, Tensor dbias) {
    ThreadPolicy.apply();
    Shape s = x.shape();
    try (RetainedTensors held = RetainedTensors.open()) {
      check(nk_winograd_conv_backward_weights(held.pointer(x), held.pointer(dy), held.pointer(dw),
              held.pointer(dbias), s.dim(0), s.dim(1), s.dim(2), s.dim(3), dy.shape().dim(1), spec.padH(),
              spec.padW(), NormkitKernels.layout(x)),
          "Winograd convolution backward weights", s);
    }
  }
}
