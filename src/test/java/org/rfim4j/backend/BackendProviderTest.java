package org.rfim4j.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.lang.reflect.InvocationTargetException;
import java.util.ArrayList;
import java.util.List;
import java.util.ServiceLoader;
import java.util.function.Consumer;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.rfim4j.testutil.NoJcudaLoader;

/**
 * The CUDA backend is found through ServiceLoader, and finding it, asking it for availability and falling
 * back to the CPU load no JCuda class. Not gpu-tagged: runs on every machine; the fallback checks only
 * where the probe finds no usable GPU (CI, development machines).
 */
class BackendProviderTest {

  private static BackendProvider cudaProvider() {
    for (BackendProvider p : ServiceLoader.load(BackendProvider.class)) {
      if (p.name().equals("cuda")) {
        return p;
      }
    }
    return null;
  }

  @Test
  void serviceLoaderFindsTheCudaProvider() {
    BackendProvider p = cudaProvider();
    assertNotNull(p, "no provider named cuda in META-INF/services/" + BackendProvider.class.getName());
    assertEquals("org.rfim4j.backend.cuda.CudaBackendProvider", p.getClass().getName());
    BackendProvider.Availability a = p.availability();
    assertFalse(a.diagnosis().isBlank(), "the availability always comes with a diagnosis");
  }

  @Test
  void findingTheProviderAndAskingForAvailabilityLoadsNoJcudaClass() throws Exception {
    NoJcudaLoader loader = new NoJcudaLoader();
    Class<?> spi = loader.loadClass(BackendProvider.class.getName());
    Object provider = null;
    for (Object p : ServiceLoader.load(spi, loader)) {
      if ("cuda".equals(spi.getMethod("name").invoke(p))) {
        provider = p;
      }
    }
    assertNotNull(provider, "ServiceLoader finds the cuda provider in a fresh class loader");
    assertEquals(loader, provider.getClass().getClassLoader());
    Object availability = spi.getMethod("availability").invoke(provider);
    boolean available = (Boolean) availability.getClass().getMethod("available").invoke(availability);
    String diagnosis = (String) availability.getClass().getMethod("diagnosis").invoke(availability);
    assertEquals(List.of(), loader.jcuda(), "JCuda classes asked for while probing");
    assertTrue(loader.requested.contains("org.rfim4j.backend.cuda.CudaProbe"), "the provider asked the probe");
    if (!available) {
      assertTrue(diagnosis.contains("CUDA unavailable"), diagnosis);
    }
  }

  @Test
  void withoutAGpuAutoFallsBackAndCudaFailsWithTheDiagnosisLoadingNoJcudaClass() throws Exception {
    BackendProvider p = cudaProvider();
    assertNotNull(p);
    Assumptions.assumeFalse(p.availability().available(), "CUDA is usable here; the fallback is not exercised");
    NoJcudaLoader loader = new NoJcudaLoader();
    Class<?> selector = loader.loadClass(BackendSelector.class.getName());
    List<String> notices = new ArrayList<>();
    Object backend = selector.getMethod("open", String.class, Consumer.class)
        .invoke(null, "auto", (Consumer<String>) notices::add);
    try {
      assertEquals("org.rfim4j.backend.cpu.CpuBackend", backend.getClass().getName());
      assertEquals(1, notices.size(), notices.toString());
      assertTrue(notices.get(0).startsWith("device auto: no usable GPU ("), notices.get(0));
      assertTrue(notices.get(0).endsWith("); running on the CPU"), notices.get(0));
    } finally {
      ((AutoCloseable) backend).close();
    }
    try {
      selector.getMethod("open", String.class, Consumer.class).invoke(null, "cuda", (Consumer<String>) notices::add);
      fail("--device cuda opened a backend on a machine the probe calls unusable");
    } catch (InvocationTargetException e) {
      Throwable t = e.getCause();
      assertEquals(BackendUnavailableException.class.getName(), t.getClass().getName(), String.valueOf(t));
      assertTrue(t.getMessage().startsWith("--device cuda: no usable GPU on this machine\nCUDA unavailable"),
          t.getMessage());
      assertTrue(t.getMessage().contains(p.availability().diagnosis()), t.getMessage());
    }
    assertEquals(List.of(), loader.jcuda(), "JCuda classes asked for by the selector");
  }

  @Test
  void theSelectorReportsTheProbeThroughTheProvider() {
    BackendProvider p = cudaProvider();
    assertNotNull(p);
    Assumptions.assumeFalse(p.availability().available(), "CUDA is usable here");
    BackendUnavailableException e = org.junit.jupiter.api.Assertions.assertThrows(BackendUnavailableException.class,
        () -> BackendSelector.open("cuda", m -> { }));
    assertEquals("--device cuda: no usable GPU on this machine\n" + p.availability().diagnosis(), e.getMessage());
  }
}
