package dev.normkit;

import dev.normkit.backend.kernels.NormkitKernels;
import dev.normkit.backend.kernels.NormkitKernels.Isa;
import java.util.List;

/** Caps normkit's kernels at one ISA for the duration of a test, then restores the ISA in effect before. */
final class IsaCap implements AutoCloseable {
  private final Isa previous;

  IsaCap(Isa max) {
    previous = NormkitKernels.isa();
    Isa effective = NormkitKernels.setMaxIsa(max);
    if (effective != max) throw new IllegalStateException("could not cap the ISA at " + max + ", got " + effective);
  }

  /** The ISAs this CPU runs: every native test runs under each of them. */
  static List<Isa> supported() {
    return NormkitKernels.supportedIsas();
  }

  @Override
  public void close() {
    NormkitKernels.setMaxIsa(previous);
  }
}
