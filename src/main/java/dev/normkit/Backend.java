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
import java.util.Locale;

/**
 * Where an op runs: {@link #NATIVE} (oneDNN and normkit's own C++ kernels; the default) or {@link #JAVA} (the
 * pure-Java, double-precision reference). {@code values()} is the list every correctness test loops over.
 */
public enum Backend {
  /** oneDNN primitives for batch, layer and group norm and convolution; normkit's kernels for the rest. */
  NATIVE("native") {
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

  /** Parses {@code native} or {@code java}. */
  public static Backend parse(String name) {
    Checks.notNull(name, "backend");
    switch (name.toLowerCase(Locale.ROOT)) {
      case "native":
        return NATIVE;
      case "java":
      case "reference":
        return JAVA;
      default:
        throw new IllegalArgumentException("unknown backend '" + name + "' (expected native or java)");
    }
  }
}
