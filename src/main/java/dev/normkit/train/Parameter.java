package dev.normkit.train;

import dev.normkit.Tensor;

/** A trainable tensor and the tensor its gradient is written to by the owning layer's backward pass. */
public record Parameter(String name, Tensor value, Tensor grad) {}
