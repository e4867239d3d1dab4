package org.rfim4j.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.lang.reflect.Method;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rfim4j.testutil.NoJcudaLoader;

/** The probe: runs on every machine (not gpu-tagged) and must never touch JCuda. */
class CudaProbeTest {

  @Test
  void probeOnThisMachineIsUnavailableAndNamesLibcudaWithoutLoadingJcuda() throws Exception {
    // This build machine has no NVIDIA driver; on a GPU machine the test only checks it does not throw.
    NoJcudaLoader loader = new NoJcudaLoader();
    Class<?> probe = loader.loadClass(CudaProbe.class.getName());
    Method m = probe.getMethod("probe");
    Object diagnosis = m.invoke(null);
    assertNotNull(diagnosis);
    boolean available = (Boolean) diagnosis.getClass().getMethod("available").invoke(diagnosis);
    String text = (String) diagnosis.getClass().getMethod("text").invoke(diagnosis);
    assertTrue(loader.requested.stream().noneMatch(n -> n.startsWith("jcuda.")), () -> "loaded " + loader.requested);
    boolean hasDriver = new File("/dev/nvidia0").exists();
    if (!hasDriver && System.getProperty(CudaProbe.LIBDIR_PROPERTY) == null) {
      assertFalse(available, text);
      assertTrue(text.contains("libcuda.so.1"), text);
      assertTrue(text.contains("/usr/lib/x86_64-linux-gnu"), "diagnosis says where it looked: " + text);
    }
    assertFalse(text.isBlank());
  }

  @Test
  void probeClassReferencesNoJcudaType() throws IOException {
    for (Class<?> c : new Class<?>[] {CudaProbe.class, CudaProbe.Diagnosis.class, CudaCompat.class}) {
      String res = c.getName().replace('.', '/') + ".class";
      try (InputStream in = getClass().getClassLoader().getResourceAsStream(res)) {
        String bytes = new String(in.readAllBytes(), java.nio.charset.StandardCharsets.ISO_8859_1);
        assertFalse(bytes.contains("jcuda/"), c + " references a jcuda class");
      }
    }
  }

  @Test
  void lookupOrderIsPropertyEnvLdLibraryPathThenStandardDirs() {
    List<String> dirs = CudaProbe.searchPath("/p", "/e", "/l1::/l2");
    assertEquals(List.of("/p", "/e", "/l1", "/l2", "/usr/lib/x86_64-linux-gnu", "/usr/lib64",
        "/usr/local/cuda/lib64", "/usr/local/cuda/compat", "/lib/x86_64-linux-gnu"), dirs);
  }

  @Test
  void findsEverythingInAConfiguredDirectory(@TempDir Path tmp) throws IOException {
    Path lib = Files.createDirectories(tmp.resolve("lib"));
    Path dev = Files.createDirectories(tmp.resolve("dev"));
    for (String f : new String[] {"libcuda.so.1", "libcublas.so.12", "libcusolver.so.11"}) {
      Files.createFile(lib.resolve(f));
    }
    Files.createFile(dev.resolve("nvidia0"));
    CudaProbe.Diagnosis d = CudaProbe.probe(lib.toString(), null, null, dev.toFile());
    assertTrue(d.available(), d.text());
    assertFalse(d.needsCompatShims());
    assertEquals(lib.resolve("libcuda.so.1").toString(), d.driver());
  }

  @Test
  void cuda13OnlyNeedsShimsAndMissingPiecesAreNamed(@TempDir Path tmp) throws IOException {
    Path lib = Files.createDirectories(tmp.resolve("lib"));
    Path dev = Files.createDirectories(tmp.resolve("dev"));
    Files.createFile(lib.resolve("libcuda.so.1"));
    Files.createFile(lib.resolve("libcublas.so.13"));
    Files.createFile(lib.resolve("libcusolver.so.12"));
    Files.createFile(dev.resolve("nvidia0"));
    CudaProbe.Diagnosis d = CudaProbe.probe(null, lib.toString(), null, dev.toFile());
    assertTrue(d.available(), d.text());
    assertTrue(d.needsCompatShims(), d.text());

    Files.delete(dev.resolve("nvidia0"));
    Files.delete(lib.resolve("libcusolver.so.12"));
    CudaProbe.Diagnosis d2 = CudaProbe.probe(null, lib.toString(), null, dev.toFile());
    assertFalse(d2.available());
    assertTrue(d2.text().contains("no NVIDIA device"), d2.text());
    assertTrue(d2.text().contains("libcusolver.so.11"), d2.text());
    assertTrue(d2.text().contains(lib.toString()), d2.text());
  }

  @Test
  void neverThrowsOnOddInput(@TempDir Path tmp) {
    CudaProbe.Diagnosis d = CudaProbe.probe("\u0000bad", "", ":::", tmp.resolve("missing").toFile());
    assertFalse(d.available());
    assertNotNull(d.text());
  }
}
