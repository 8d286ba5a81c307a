package dev.normkit.backend;

import dev.normkit.Conv2dSpec;
import dev.normkit.Tensor;

/**
 * 2-D convolution y = conv2d(x, w, bias) as PyTorch's {@code F.conv2d}: x (N, C, H, W), w (O, C / groups, kH, kW),
 * bias (O) or null, y (N, O, OH, OW). x, y, dx and dy share one layout; w and dw are contiguous (OIHW).
 */
public interface ConvolutionKernel {
  void forward(Tensor x, Tensor w, Tensor bias, Conv2dSpec spec, Tensor y);

  /** dx from dy and w. */
  void backwardData(Tensor dy, Tensor w, Conv2dSpec spec, Tensor dx);

  /** dw (and dbias = sum of dy over N, OH, OW, when non-null) from x and dy. */
  void backwardWeights(Tensor x, Tensor dy, Conv2dSpec spec, Tensor dw, Tensor dbias);
}
