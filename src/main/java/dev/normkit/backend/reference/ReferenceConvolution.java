package dev.normkit.backend.reference;

import dev.normkit.*;
import dev.normkit.backend.ConvolutionKernel;

/** PLACEHOLDER until its helper lands. */
public final class ReferenceConvolution implements ConvolutionKernel {
  public static final ReferenceConvolution INSTANCE = new ReferenceConvolution();

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
