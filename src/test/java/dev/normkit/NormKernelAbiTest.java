package dev.normkit;

import static dev.normkit.backend.kernels.NormkitLibrary.*;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;
import org.junit.jupiter.api.Test;

/**
 * The batch-, group- and layer-norm entry points of the C ABI, and its layout transpose, re-check their arguments (a last line of defence
 * behind {@link Functional}) and answer NK_INVALID_ARGUMENTS without touching memory; an empty tensor is a no-op;
 * and they never fault on a float-misaligned output.
 */
class NormKernelAbiTest {
  private static final double EPS = 1e-5;
  private static final int INVALID = NK_INVALID_ARGUMENTS;
  private static final int CF = NK_LAYOUT_CHANNELS_FIRST;
  private static final int CL = NK_LAYOUT_CHANNELS_LAST;

  @Test
  void batchNormRejectsBadArguments() {
    try (FloatPointer a = new FloatPointer(64);
        FloatPointer b = new FloatPointer(64);
        FloatPointer m = new FloatPointer(64);
        FloatPointer v = new FloatPointer(64)) {
      v.fill(1);
      assertEquals(0, nk_batch_norm_forward_training(a, b, null, null, m, v, 2, 2, 4, CL, EPS));
      assertEquals(INVALID, nk_batch_norm_forward_training(null, b, null, null, m, v, 2, 2, 4, CF, EPS));
      assertEquals(INVALID, nk_batch_norm_forward_training(a, b, null, null, m, null, 2, 2, 4, CF, EPS));
      assertEquals(INVALID, nk_batch_norm_forward_training(a, b, null, null, m, v, 2, -2, 4, CF, EPS));
      assertEquals(INVALID, nk_batch_norm_forward_training(a, b, null, null, m, v, 2, 2, 4, 9, EPS));
      assertEquals(INVALID, nk_batch_norm_forward_training(a, b, null, null, m, v, 2, 2, 4, CF, -1));
      assertEquals(INVALID, nk_batch_norm_forward_training(a, b, null, null, m, v, Long.MAX_VALUE / 2, 4, 1, CF, EPS),
          "element count overflow");
      assertEquals(0, nk_batch_norm_forward_training(null, null, null, null, null, null, 2, 0, 4, CF, EPS));
      assertEquals(INVALID, nk_batch_norm_forward_inference(a, null, null, null, m, v, 2, 2, 4, CF, EPS));
      assertEquals(INVALID, nk_batch_norm_backward(a, null, null, m, v, b, null, null, 2, 2, 4, CF, EPS));
      assertEquals(INVALID, nk_batch_norm_backward_global_stats(a, a, null, m, v, null, null, null, 2, 2, 4, CF, EPS));
      assertEquals(INVALID, nk_batch_norm_backward_global_stats(a, a, null, m, v, b, null, null, 2, 2, 4, CF, 0));
    }
  }

  @Test
  void winogradConvolutionRejectsBadArguments() {
    // x (1, 2, 3, 3), w (2, 2, 3, 3): 18 and 36 floats; y (1, 2, 3, 3) with padding 1
    try (FloatPointer x = new FloatPointer(64);
        FloatPointer w = new FloatPointer(64);
        FloatPointer y = new FloatPointer(64)) {
      assertEquals(0, nk_winograd_conv_forward(x, w, null, y, 1, 2, 3, 3, 2, 1, 1, CL));
      assertEquals(0, nk_winograd_conv_backward_data(y, w, x, 1, 2, 3, 3, 2, 1, 1, CF));
      assertEquals(0, nk_winograd_conv_backward_weights(x, y, w, null, 1, 2, 3, 3, 2, 1, 1, CF));
      assertEquals(INVALID, nk_winograd_conv_forward(x, w, null, y, 1, 2, 3, 3, 2, 3, 1, CF), "padding 3");
      assertEquals(INVALID, nk_winograd_conv_forward(x, w, null, y, 1, 2, 3, 3, 2, -1, 1, CF), "negative padding");
      assertEquals(INVALID, nk_winograd_conv_forward(x, w, null, y, 1, 2, 2, 2, 2, 0, 0, CF), "no output");
      assertEquals(INVALID, nk_winograd_conv_forward(x, w, null, y, 1, -2, 3, 3, 2, 1, 1, CF));
      assertEquals(INVALID, nk_winograd_conv_forward(x, w, null, y, 1, 2, 3, 3, 2, 1, 1, 9), "layout");
      assertEquals(INVALID, nk_winograd_conv_forward(x, null, null, y, 1, 2, 3, 3, 2, 1, 1, CF));
      assertEquals(INVALID, nk_winograd_conv_backward_data(y, w, null, 1, 2, 3, 3, 2, 1, 1, CF));
      assertEquals(INVALID, nk_winograd_conv_backward_weights(x, y, null, null, 1, 2, 3, 3, 2, 1, 1, CF));
      assertEquals(0, nk_winograd_conv_forward(null, null, null, null, 0, 2, 3, 3, 2, 1, 1, CF), "empty: no-op");
    }
  }

  @Test
  void groupNormRejectsBadArguments() {
    try (FloatPointer a = new FloatPointer(64);
        FloatPointer b = new FloatPointer(64);
        FloatPointer m = new FloatPointer(64);
        FloatPointer v = new FloatPointer(64)) {
      v.fill(1);
      assertEquals(0, nk_group_norm_forward(a, b, null, null, m, v, 2, 6, 4, 3, CL, EPS));
      assertEquals(INVALID, nk_group_norm_forward(a, b, null, null, m, v, 2, 6, 4, 4, CF, EPS), "C % groups != 0");
      assertEquals(INVALID, nk_group_norm_forward(a, b, null, null, m, v, 2, 6, 4, 0, CF, EPS), "no groups");
      assertEquals(INVALID, nk_group_norm_forward(a, null, null, null, m, v, 2, 6, 4, 3, CF, EPS));
      assertEquals(INVALID, nk_group_norm_backward(a, a, null, m, v, null, null, null, 2, 6, 4, 3, CF, EPS));
      assertEquals(INVALID, nk_group_norm_backward(a, a, null, m, v, b, null, null, 2, 6, 4, 7, CF, EPS));
      assertEquals(0, nk_group_norm_backward(null, null, null, null, null, null, null, null, 0, 6, 4, 3, CF, EPS));
    }
  }

  @Test
  void layerNormRejectsBadArguments() {
    try (FloatPointer a = new FloatPointer(64);
        FloatPointer b = new FloatPointer(64);
        FloatPointer g = new FloatPointer(64);
        FloatPointer m = new FloatPointer(64);
        FloatPointer v = new FloatPointer(64)) {
      v.fill(1);
      g.fill(1);
      // sets of d = 2 (divides S = 4), C * S = 12 and N * C * S = 24 values are valid; d = 3 and 5 are not
      for (long d : new long[] {2, 4, 12, 24}) {
        assertEquals(0, nk_layer_norm_forward(a, b, g, g, m, v, 2, 3, 4, d, CL, EPS), "d = " + d);
      }
      assertEquals(INVALID, nk_layer_norm_forward(a, b, null, null, m, v, 2, 3, 4, 3, CF, EPS), "d = 3");
      assertEquals(INVALID, nk_layer_norm_forward(a, b, null, null, m, v, 2, 3, 4, 5, CF, EPS), "d = 5");
      assertEquals(INVALID, nk_layer_norm_forward(a, b, null, null, m, v, 2, 3, 4, 0, CF, EPS), "d = 0");
      assertEquals(INVALID, nk_layer_norm_forward(a, b, g, null, m, v, 2, 3, 4, 12, CF, EPS), "gamma without beta");
      assertEquals(INVALID, nk_layer_norm_forward(a, b, null, null, null, v, 2, 3, 4, 12, CF, EPS));
      assertEquals(INVALID, nk_layer_norm_backward(a, a, g, m, v, null, null, null, 2, 3, 4, 12, CF, EPS));
      assertEquals(INVALID, nk_layer_norm_backward(a, a, g, m, v, b, null, null, 2, 3, 4, 7, CF, EPS));
      assertEquals(0, nk_layer_norm_backward(null, null, null, null, null, null, null, null, 2, 0, 4, 12, CF, EPS));
    }
  }

  @Test
  void transposeRejectsBadArguments() {
    try (FloatPointer a = new FloatPointer(64); FloatPointer b = new FloatPointer(64)) {
      assertEquals(0, nk_transpose_images(a, b, 2, 4, 8));
      assertEquals(INVALID, nk_transpose_images(null, b, 2, 4, 8));
      assertEquals(INVALID, nk_transpose_images(a, null, 2, 4, 8));
      assertEquals(INVALID, nk_transpose_images(a, b, 2, -4, 8));
      assertEquals(INVALID, nk_transpose_images(a, a, 2, 4, 8), "in place");
      assertEquals(INVALID, nk_transpose_images(a, b, Long.MAX_VALUE / 2, 4, 1), "element count overflow");
      assertEquals(0, nk_transpose_images(null, null, 2, 0, 8), "empty");
    }
  }

  /**
   * A C caller may pass an output that is not float-aligned (Java refuses to wrap one). An output this large is
   * written with non-temporal stores, which fault on such an address (it crashed the JVM); it is now stored normally,
   * with the values of an aligned output.
   */
  @Test
  void aFloatMisalignedLargeOutputIsWrittenWithoutFaulting() {
    long n = 8, c = 64, s = 56 * 56, count = n * c * s;  // 6.4 MB: above the streaming threshold
    try (FloatPointer x = new FloatPointer(count);
        FloatPointer y = new FloatPointer(count);
        BytePointer bytes = new BytePointer(count * Float.BYTES + Float.BYTES);
        FloatPointer m = new FloatPointer(n * c);
        FloatPointer v = new FloatPointer(n * c)) {
      for (long i = 0; i < count; i++) x.put(i, (i * 7919 % 1000) * 1e-3f);
      assertEquals(0, nk_instance_norm_forward_training(x, y, null, null, m, v, n, c, s, CF, EPS));
      FloatPointer misaligned = floatsAt(bytes.address() + 1);  // 1 byte past a float boundary
      assertEquals(0, nk_instance_norm_forward_training(x, misaligned, null, null, m, v, n, c, s, CF, EPS));
      for (long i = 0; i < count; i += 997) assertEquals(y.get(i), misaligned.get(i), "element " + i);
      assertEquals(y.get(count - 1), misaligned.get(count - 1));
    }
  }

  /** A float pointer at a raw address (which may be misaligned), of unknown extent. */
  private static FloatPointer floatsAt(long at) {
    // inside the anonymous class a plain "address" names Pointer's field, hence "at"
    return new FloatPointer(new Pointer() {
      {
        this.address = at;
      }
    });
  }
}
