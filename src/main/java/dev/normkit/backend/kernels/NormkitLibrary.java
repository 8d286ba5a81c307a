package dev.normkit.backend.kernels;

import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.annotation.Cast;
import org.bytedeco.javacpp.annotation.Const;
import org.bytedeco.javacpp.annotation.Platform;
import org.bytedeco.javacpp.annotation.Properties;

/**
 * The JavaCPP binding of {@code native/include/normkit/normkit.h}, the C ABI of normkit's own kernels
 * ({@code libnormkit.so}, built by CMake from {@code native/}).
 *
 * <p>Loading this class first loads the dnnl preset, so that {@code libgomp.so.1} and {@code libdnnl.so.3}
 * come from the preset's jar and our library shares that OpenMP runtime. Only the kernel adapters of this package
 * call it, through {@link NormkitKernels}, which turns status codes into exceptions; their arguments have been
 * validated in Java before ({@link dev.normkit.Functional}).
 */
@Properties(
    target = "dev.normkit.backend.kernels.NormkitLibrary",
    value = @Platform(
        value = "linux-x86_64",
        include = "normkit/normkit.h",
        link = "normkit"))
public final class NormkitLibrary {
  static {
    dev.normkit.backend.NativeRuntime.load();
    Loader.load();
  }

  private NormkitLibrary() {}

  public static final int NK_SUCCESS = 0;
  public static final int NK_INVALID_ARGUMENTS = 1;
  public static final int NK_UNSUPPORTED = 2;
  public static final int NK_OUT_OF_MEMORY = 3;
  public static final int NK_RUNTIME_ERROR = 4;

  public static final int NK_ISA_SCALAR = 0;
  public static final int NK_ISA_AVX2 = 1;
  public static final int NK_ISA_AVX512 = 2;

  public static final int NK_LAYOUT_CHANNELS_FIRST = 0;
  public static final int NK_LAYOUT_CHANNELS_LAST = 1;

  public static native @Cast("const char*") String nk_version();

  public static native @Cast("const char*") String nk_status_string(@Cast("nk_status_t") int status);

  public static native @Cast("nk_isa_t") int nk_get_isa();

  public static native @Cast("nk_isa_t") int nk_get_cpu_isa();

  public static native @Cast("nk_status_t") int nk_set_max_isa(
      @Cast("nk_isa_t") int maxIsa, @Cast("nk_isa_t*") IntPointer effective);

  public static native @Cast("nk_status_t") int nk_set_num_threads(@Cast("int32_t") int threads);

  public static native @Cast("int32_t") int nk_get_max_threads();

  public static native @Cast("nk_status_t") int nk_scale_shift(
      @Const FloatPointer src, FloatPointer dst, @Cast("int64_t") long n, float a, float b);

  public static native @Cast("nk_status_t") int nk_transpose_images(
      @Const FloatPointer src,
      FloatPointer dst,
      @Cast("int64_t") long n,
      @Cast("int64_t") long rows,
      @Cast("int64_t") long cols);

  // ---------------------------------------------------------------------------------------- instance norm

  public static native @Cast("nk_status_t") int nk_instance_norm_forward_training(
      @Const FloatPointer src,
      FloatPointer dst,
      @Const FloatPointer gamma,
      @Const FloatPointer beta,
      FloatPointer mean,
      FloatPointer var,
      @Cast("int64_t") long n,
      @Cast("int64_t") long c,
      @Cast("int64_t") long s,
      @Cast("nk_layout_t") int layout,
      double eps);

  public static native @Cast("nk_status_t") int nk_instance_norm_forward_inference(
      @Const FloatPointer src,
      FloatPointer dst,
      @Const FloatPointer gamma,
      @Const FloatPointer beta,
      @Const FloatPointer runningMean,
      @Const FloatPointer runningVar,
      @Cast("int64_t") long n,
      @Cast("int64_t") long c,
      @Cast("int64_t") long s,
      @Cast("nk_layout_t") int layout,
      double eps);

  public static native @Cast("nk_status_t") int nk_instance_norm_backward(
      @Const FloatPointer src,
      @Const FloatPointer diffDst,
      @Const FloatPointer gamma,
      @Const FloatPointer mean,
      @Const FloatPointer var,
      FloatPointer diffSrc,
      FloatPointer diffGamma,
      FloatPointer diffBeta,
      @Cast("int64_t") long n,
      @Cast("int64_t") long c,
      @Cast("int64_t") long s,
      @Cast("nk_layout_t") int layout,
      double eps);

  public static native @Cast("nk_status_t") int nk_instance_norm_backward_running_stats(
      @Const FloatPointer src,
      @Const FloatPointer diffDst,
      @Const FloatPointer gamma,
      @Const FloatPointer runningMean,
      @Const FloatPointer runningVar,
      FloatPointer diffSrc,
      FloatPointer diffGamma,
      FloatPointer diffBeta,
      @Cast("int64_t") long n,
      @Cast("int64_t") long c,
      @Cast("int64_t") long s,
      @Cast("nk_layout_t") int layout,
      double eps);

  // ------------------------------------------------------------------------------------------- batch norm

  public static native @Cast("nk_status_t") int nk_batch_norm_forward_training(
      @Const FloatPointer src,
      FloatPointer dst,
      @Const FloatPointer gamma,
      @Const FloatPointer beta,
      FloatPointer mean,
      FloatPointer var,
      @Cast("int64_t") long n,
      @Cast("int64_t") long c,
      @Cast("int64_t") long s,
      @Cast("nk_layout_t") int layout,
      double eps);

  public static native @Cast("nk_status_t") int nk_batch_norm_forward_inference(
      @Const FloatPointer src,
      FloatPointer dst,
      @Const FloatPointer gamma,
      @Const FloatPointer beta,
      @Const FloatPointer mean,
      @Const FloatPointer var,
      @Cast("int64_t") long n,
      @Cast("int64_t") long c,
      @Cast("int64_t") long s,
      @Cast("nk_layout_t") int layout,
      double eps);

  public static native @Cast("nk_status_t") int nk_batch_norm_backward(
      @Const FloatPointer src,
      @Const FloatPointer diffDst,
      @Const FloatPointer gamma,
      @Const FloatPointer mean,
      @Const FloatPointer var,
      FloatPointer diffSrc,
      FloatPointer diffGamma,
      FloatPointer diffBeta,
      @Cast("int64_t") long n,
      @Cast("int64_t") long c,
      @Cast("int64_t") long s,
      @Cast("nk_layout_t") int layout,
      double eps);

  public static native @Cast("nk_status_t") int nk_batch_norm_backward_global_stats(
      @Const FloatPointer src,
      @Const FloatPointer diffDst,
      @Const FloatPointer gamma,
      @Const FloatPointer mean,
      @Const FloatPointer var,
      FloatPointer diffSrc,
      FloatPointer diffGamma,
      FloatPointer diffBeta,
      @Cast("int64_t") long n,
      @Cast("int64_t") long c,
      @Cast("int64_t") long s,
      @Cast("nk_layout_t") int layout,
      double eps);

  // ------------------------------------------------------------------------------------------- group norm

  public static native @Cast("nk_status_t") int nk_group_norm_forward(
      @Const FloatPointer src,
      FloatPointer dst,
      @Const FloatPointer gamma,
      @Const FloatPointer beta,
      FloatPointer mean,
      FloatPointer var,
      @Cast("int64_t") long n,
      @Cast("int64_t") long c,
      @Cast("int64_t") long s,
      @Cast("int64_t") long groups,
      @Cast("nk_layout_t") int layout,
      double eps);

  public static native @Cast("nk_status_t") int nk_group_norm_backward(
      @Const FloatPointer src,
      @Const FloatPointer diffDst,
      @Const FloatPointer gamma,
      @Const FloatPointer mean,
      @Const FloatPointer var,
      FloatPointer diffSrc,
      FloatPointer diffGamma,
      FloatPointer diffBeta,
      @Cast("int64_t") long n,
      @Cast("int64_t") long c,
      @Cast("int64_t") long s,
      @Cast("int64_t") long groups,
      @Cast("nk_layout_t") int layout,
      double eps);

  // ------------------------------------------------------------------------------------------- layer norm

  public static native @Cast("nk_status_t") int nk_layer_norm_forward(
      @Const FloatPointer src,
      FloatPointer dst,
      @Const FloatPointer gamma,
      @Const FloatPointer beta,
      FloatPointer mean,
      FloatPointer var,
      @Cast("int64_t") long n,
      @Cast("int64_t") long c,
      @Cast("int64_t") long s,
      @Cast("int64_t") long d,
      @Cast("nk_layout_t") int layout,
      double eps);

  public static native @Cast("nk_status_t") int nk_layer_norm_backward(
      @Const FloatPointer src,
      @Const FloatPointer diffDst,
      @Const FloatPointer gamma,
      @Const FloatPointer mean,
      @Const FloatPointer var,
      FloatPointer diffSrc,
      FloatPointer diffGamma,
      FloatPointer diffBeta,
      @Cast("int64_t") long n,
      @Cast("int64_t") long c,
      @Cast("int64_t") long s,
      @Cast("int64_t") long d,
      @Cast("nk_layout_t") int layout,
      double eps);

  // ------------------------------------------------------------------------------- weight standardization

  public static final int NK_WS_SEED = 0;
  public static final int NK_WS_BATCH_NORM_STYLE = 1;
  public static final int NK_WS_SCALED = 2;

  public static native @Cast("nk_status_t") int nk_weight_standardization_forward(
      @Const FloatPointer src,
      FloatPointer dst,
      FloatPointer mean,
      FloatPointer rstd,
      @Const FloatPointer gain,
      @Cast("int64_t") long o,
      @Cast("int64_t") long k,
      @Cast("nk_ws_variant_t") int variant,
      double eps,
      double gamma);

  public static native @Cast("nk_status_t") int nk_weight_standardization_backward(
      @Const FloatPointer src,
      @Const FloatPointer diffDst,
      @Const FloatPointer gain,
      @Const FloatPointer mean,
      @Const FloatPointer rstd,
      FloatPointer diffSrc,
      FloatPointer diffGain,
      @Cast("int64_t") long o,
      @Cast("int64_t") long k,
      @Cast("nk_ws_variant_t") int variant,
      double eps,
      double gamma);

  // ------------------------------------------------------------------------------------ Winograd convolution

  public static native @Cast("nk_status_t") int nk_winograd_conv_forward(
      @Const FloatPointer src,
      @Const FloatPointer weight,
      @Const FloatPointer bias,
      FloatPointer dst,
      @Cast("int64_t") long n,
      @Cast("int64_t") long c,
      @Cast("int64_t") long h,
      @Cast("int64_t") long w,
      @Cast("int64_t") long o,
      @Cast("int64_t") long padH,
      @Cast("int64_t") long padW,
      @Cast("nk_layout_t") int layout);

  public static native @Cast("nk_status_t") int nk_winograd_conv_backward_data(
      @Const FloatPointer diffDst,
      @Const FloatPointer weight,
      FloatPointer diffSrc,
      @Cast("int64_t") long n,
      @Cast("int64_t") long c,
      @Cast("int64_t") long h,
      @Cast("int64_t") long w,
      @Cast("int64_t") long o,
      @Cast("int64_t") long padH,
      @Cast("int64_t") long padW,
      @Cast("nk_layout_t") int layout);

  public static native @Cast("nk_status_t") int nk_winograd_conv_backward_weights(
      @Const FloatPointer src,
      @Const FloatPointer diffDst,
      FloatPointer diffWeight,
      FloatPointer diffBias,
      @Cast("int64_t") long n,
      @Cast("int64_t") long c,
      @Cast("int64_t") long h,
      @Cast("int64_t") long w,
      @Cast("int64_t") long o,
      @Cast("int64_t") long padH,
      @Cast("int64_t") long padW,
      @Cast("nk_layout_t") int layout);
}
