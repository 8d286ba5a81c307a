package dev.normkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.normkit.backend.dnnl.DnnlBatchNorm;
import dev.normkit.backend.dnnl.DnnlGroupNorm;
import dev.normkit.backend.dnnl.DnnlLayerNorm;
import dev.normkit.backend.kernels.NativeInstanceNorm;
import dev.normkit.backend.routing.RoutedBatchNorm;
import dev.normkit.backend.routing.RoutedGroupNorm;
import dev.normkit.backend.routing.RoutedLayerNorm;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The backends by name, and which implementation each one maps an op to. */
class BackendTest {
  @Test
  void parsesEveryBackendByName() {
    assertEquals(List.of(Backend.NATIVE, Backend.ONEDNN, Backend.JAVA), List.of(Backend.values()));
    for (Backend b : Backend.values()) assertSame(b, Backend.parse(b.cliName()));
    assertSame(Backend.ONEDNN, Backend.parse("DNNL"));
    assertSame(Backend.JAVA, Backend.parse("reference"));
    assertThrows(IllegalArgumentException.class, () -> Backend.parse("cuda"));
  }

  @Test
  void oneDnnKeepsTheOneDnnMappingAndNativeRoutes() {
    assertSame(DnnlBatchNorm.INSTANCE, Backend.ONEDNN.batchNorm());
    assertSame(DnnlLayerNorm.INSTANCE, Backend.ONEDNN.layerNorm());
    assertSame(DnnlGroupNorm.INSTANCE, Backend.ONEDNN.groupNorm());
    assertSame(NativeInstanceNorm.INSTANCE, Backend.ONEDNN.instanceNorm());
    assertSame(RoutedBatchNorm.INSTANCE, Backend.NATIVE.batchNorm());
    assertSame(RoutedLayerNorm.INSTANCE, Backend.NATIVE.layerNorm());
    assertSame(RoutedGroupNorm.INSTANCE, Backend.NATIVE.groupNorm());
  }
}
