package dev.normkit.backend.dnnl;

import dev.normkit.*;
import dev.normkit.backend.ConvolutionKernel;

/** PLACEHOLDER until its helper lands. */
public final class DnnlConvolution implements ConvolutionKernel {
  public static final DnnlConvolution INSTANCE = new DnnlConvolution();

  @Override
  public void forward(Tensor x, Tensor w, Tensor bias, Conv2dSpec spec, Tensor y) {
    throw new UnsupportedOperationException("pending");
  }

  @Override
  public void backwardData(Tensor dy, Tensor w, Conv2dSpec spec, Tensor dx) {
    throw new UnsupportedOperationException("pending");
  }

  @Override
  public void backwardWeights(Tensor x, Tensor dy, Conv2dSpec spec, Tensor dw, Tensor dbias) {
    throw new UnsupportedOperationException("pending");
  }
}
