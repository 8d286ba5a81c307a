package dev.normkit.train;

import dev.normkit.Layout;
import dev.normkit.Shape;
import dev.normkit.Tensor;
import dev.normkit.backend.dnnl.DnnlMaxPool;

/** 2x2 max pooling with stride 2 on oneDNN, PyTorch's {@code F.max_pool2d(x, 2)}; the argmaxes stay in a workspace. */
final class MaxPool extends Layer {
  private static final int WINDOW = 2;
  private Tensor input, workspace;
  private Shape workspaceShape;
  private Layout workspaceLayout;

  @Override
  Tensor forward(Tensor x) {
    input = x;
    if (!x.shape().equals(workspaceShape) || x.layout() != workspaceLayout) {  // asked of oneDNN once per input
      workspace = buffer("workspace", DnnlMaxPool.workspaceShape(x, WINDOW), Layout.CHANNELS_FIRST);
      workspaceShape = x.shape();
      workspaceLayout = x.layout();
    }
    Tensor y = buffer("y", DnnlMaxPool.outputShape(x.shape(), WINDOW), x.layout());
    DnnlMaxPool.forward(x, y, workspace, WINDOW);
    return y;
  }

  @Override
  Tensor backward(Tensor dy) {
    Tensor dx = buffer("dx", input.shape(), input.layout());
    DnnlMaxPool.backward(dy, workspace, dx, WINDOW);
    return dx;
  }
}
