package dev.normkit;

import dev.normkit.backend.BatchNormKernel;
import dev.normkit.backend.ConvolutionKernel;
import dev.normkit.backend.GroupNormKernel;
import dev.normkit.backend.InstanceNormKernel;
import dev.normkit.backend.LayerNormKernel;
import dev.normkit.backend.WeightStandardizationKernel;
import dev.normkit.backend.dnnl.DnnlBatchNorm;
import dev.normkit.backend.dnnl.DnnlConvolution;
import dev.normkit.backend.dnnl.DnnlGroupNorm;
import dev.normkit.backend.dnnl.DnnlLayerNorm;
import dev.normkit.backend.kernels.NativeInstanceNorm;
import dev.normkit.backend.kernels.NativeWeightStandardization;
import dev.normkit.backend.reference.ReferenceBatchNorm;
import dev.normkit.backend.reference.ReferenceConvolution;
import dev.normkit.backend.reference.ReferenceGroupNorm;
import dev.normkit.backend.reference.ReferenceInstanceNorm;
import dev.normkit.backend.reference.ReferenceLayerNorm;
import dev.normkit.backend.reference.ReferenceWeightStandardization;
import dev.normkit.backend.routing.RoutedBatchNorm;
import dev.normkit.backend.routing.RoutedConvolution;
import dev.normkit.backend.routing.RoutedGroupNorm;
import dev.normkit.backend.routing.RoutedLayerNorm;
import java.util.Locale;

/**
 * Where an op runs: {@link #NATIVE} (the faster of oneDNN and normkit's own C++ kernels for each case; the default),
 * {@link #ONEDNN} (oneDNN wherever it has the op) or {@link #JAVA} (the pure-Java, double-precision reference).
 * {@code values()} is the list every correctness test loops over.
 */
public enum Backend {
  /**
   * Per op, pass and layout, whichever of oneDNN and normkit's kernels measured faster ({@link RoutedBatchNorm},
   * {@link RoutedLayerNorm}, {@link RoutedGroupNorm} state the numbers); normkit's kernels for instance norm and
   * weight standardization; Winograd or oneDNN for convolution ({@link RoutedConvolution}).
   */
  NATIVE("native") {
    @Override public BatchNormKernel batchNorm() { return RoutedBatchNorm.INSTANCE; }
    @Override public LayerNormKernel layerNorm() { return RoutedLayerNorm.INSTANCE; }
    @Override public GroupNormKernel groupNorm() { return RoutedGroupNorm.INSTANCE; }
    @Override public InstanceNormKernel instanceNorm() { return NativeInstanceNorm.INSTANCE; }
    @Override public WeightStandardizationKernel weightStandardization() { return NativeWeightStandardization.INSTANCE; }
    @Override public ConvolutionKernel convolution() { return RoutedConvolution.INSTANCE; }
  },
  /**
   * oneDNN primitives for batch, layer and group norm and convolution; normkit's kernels for instance norm and weight
   * standardization, which oneDNN lacks. Kept so that the oneDNN mapping stays available and tested.
   */
  ONEDNN("onednn") {
    @Override public BatchNormKernel batchNorm() { return DnnlBatchNorm.INSTANCE; }
    @Override public LayerNormKernel layerNorm() { return DnnlLayerNorm.INSTANCE; }
    @Override public GroupNormKernel groupNorm() { return DnnlGroupNorm.INSTANCE; }
    @Override public InstanceNormKernel instanceNorm() { return NativeInstanceNorm.INSTANCE; }
    @Override public WeightStandardizationKernel weightStandardization() { return NativeWeightStandardization.INSTANCE; }
    @Override public ConvolutionKernel convolution() { return DnnlConvolution.INSTANCE; }
  },
  /** The reference: double accumulation, two-pass statistics, straightforward loops. */
  JAVA("java") {
    @Override public BatchNormKernel batchNorm() { return ReferenceBatchNorm.INSTANCE; }
    @Override public LayerNormKernel layerNorm() { return ReferenceLayerNorm.INSTANCE; }
    @Override public GroupNormKernel groupNorm() { return ReferenceGroupNorm.INSTANCE; }
    @Override public InstanceNormKernel instanceNorm() { return ReferenceInstanceNorm.INSTANCE; }
    @Override public WeightStandardizationKernel weightStandardization() { return ReferenceWeightStandardization.INSTANCE; }
    @Override public ConvolutionKernel convolution() { return ReferenceConvolution.INSTANCE; }
  };

  private final String cliName;

  Backend(String cliName) {
    this.cliName = cliName;
  }

  public abstract BatchNormKernel batchNorm();

  public abstract LayerNormKernel layerNorm();

  public abstract GroupNormKernel groupNorm();

  public abstract InstanceNormKernel instanceNorm();

  public abstract WeightStandardizationKernel weightStandardization();

  public abstract ConvolutionKernel convolution();

  public String cliName() {
    return cliName;
  }

  /** The default backend: {@link #NATIVE}. */
  public static Backend defaultBackend() {
    return NATIVE;
  }

  /** Parses {@code native}, {@code onednn} (or {@code dnnl}) or {@code java} (or {@code reference}). */
  public static Backend parse(String name) {
    Checks.notNull(name, "backend");
    switch (name.toLowerCase(Locale.ROOT)) {
      case "native":
        return NATIVE;
      case "onednn":
      case "dnnl":
        return ONEDNN;
      case "java":
      case "reference":
        return JAVA;
      default:
        throw new IllegalArgumentException("unknown backend '" + name + "' (expected native, onednn or java)");
    }
  }
}
