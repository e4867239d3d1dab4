package org.rfim4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.rfim4j.backend.BackendSelector;

/**
 * What the library's classes may reference, checked on the compiled main classes (every reference a class
 * makes, imported or fully qualified, is a class name in its constant pool; comments are not). The library
 * is usable as a plain Maven dependency only if:
 *
 * <ul>
 *   <li>nothing outside {@code org.rfim4j.backend.cuda} references that package (the selector finds the CUDA
 *       backend as a {@code BackendProvider} through ServiceLoader; the CLI uses capability interfaces such as
 *       {@code Tf32Capable} instead of casting to {@code CudaBackend}), and nothing outside it references
 *       {@code jcuda.*};
 *   <li>the CLI-only dependencies, which are optional in the POM, are referenced only by the CLI: picocli and
 *       XChart (with its PDF/SVG stack) only by {@code org.rfim4j.cli}, progressbar only by {@code cli} and
 *       {@code org.rfim4j.train.ProgressBarListener}.
 * </ul>
 */
class DependencyBoundariesTest {

  /** Internal class name (org/rfim4j/...) to its class file bytes, ISO-8859-1 decoded. */
  private static final Map<String, String> CLASSES = new TreeMap<>();

  @BeforeAll
  static void readMainClasses() throws IOException, URISyntaxException {
    Path where = Path.of(BackendSelector.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    if (Files.isDirectory(where)) {
      try (Stream<Path> files = Files.walk(where.resolve("org/rfim4j"))) {
        for (Path f : (Iterable<Path>) files.filter(p -> p.toString().endsWith(".class"))::iterator) {
          String name = where.relativize(f).toString().replace('\\', '/');
          CLASSES.put(name.substring(0, name.length() - ".class".length()),
              new String(Files.readAllBytes(f), StandardCharsets.ISO_8859_1));
        }
      }
    } else {  // a jar (scripts/bundle runs the tests against the shaded jar)
      try (ZipFile zip = new ZipFile(where.toFile())) {
        for (ZipEntry e : Collections.list(zip.entries())) {
          if (e.getName().startsWith("org/rfim4j/") && e.getName().endsWith(".class")) {
            try (InputStream in = zip.getInputStream(e)) {
              CLASSES.put(e.getName().substring(0, e.getName().length() - ".class".length()),
                  new String(in.readAllBytes(), StandardCharsets.ISO_8859_1));
            }
          }
        }
      }
    }
    assertTrue(CLASSES.containsKey("org/rfim4j/backend/BackendSelector"), "main classes found in " + where);
    assertTrue(CLASSES.containsKey("org/rfim4j/backend/cuda/CudaBackend"), "main classes found in " + where);
  }

  private static boolean in(String cls, String pkg) {
    return cls.startsWith(pkg + "/") && cls.indexOf('/', pkg.length() + 1) < 0;
  }

  private static boolean under(String cls, String pkg) {
    return cls.startsWith(pkg + "/");
  }

  /** Classes outside what {@code allowed} accepts whose constant pool mentions {@code reference}. */
  private static List<String> offenders(String reference, java.util.function.Predicate<String> allowed) {
    List<String> bad = new ArrayList<>();
    CLASSES.forEach((cls, bytes) -> {
      if (!allowed.test(cls) && bytes.contains(reference)) {
        bad.add(cls.replace('/', '.'));
      }
    });
    return bad;
  }

  @Test
  void onlyTheCudaPackageReferencesTheCudaBackendOrJcuda() {
    assertEquals(List.of(), offenders("org/rfim4j/backend/cuda/", c -> in(c, "org/rfim4j/backend/cuda")),
        "classes referencing org.rfim4j.backend.cuda (use BackendProvider / capability interfaces instead)");
    assertEquals(List.of(), offenders("jcuda/", c -> in(c, "org/rfim4j/backend/cuda")),
        "classes referencing jcuda.* outside org.rfim4j.backend.cuda");
  }

  @Test
  void cliOnlyDependenciesStayInTheCli() {
    for (String dep : new String[] {"picocli/", "org/knowm/", "de/erichseifert/", "org/apache/pdfbox/",
        "de/rototor/"}) {
      assertEquals(List.of(), offenders(dep, c -> under(c, "org/rfim4j/cli")),
          "library classes referencing " + dep + " (an optional, CLI-only dependency)");
    }
    assertEquals(List.of(), offenders("me/tongfei/", c -> under(c, "org/rfim4j/cli")
            || c.equals("org/rfim4j/train/ProgressBarListener") || c.startsWith("org/rfim4j/train/ProgressBarListener$")),
        "classes other than ProgressBarListener referencing progressbar (optional)");
  }

  /**
   * Optimizers are state plus an update rule over what a caller passes in (optim.Trainable), and the
   * preconditioner sees only the backend seam and its configuration: neither reaches into the network code
   * (nn), the trainer (train) or the CLI.
   */
  @Test
  void optimizersAndThePreconditionerDoNotReachIntoModels() {
    for (String pkg : new String[] {"org/rfim4j/optim", "org/rfim4j/precond"}) {
      for (String dep : new String[] {"org/rfim4j/nn/", "org/rfim4j/train/", "org/rfim4j/cli/"}) {
        assertEquals(List.of(), offenders(dep, c -> !in(c, pkg)), "classes of " + pkg + " referencing " + dep);
      }
    }
  }

  @Test
  void theScanSeesReferences() {
    // guards the scan itself: known references must be visible in the bytes
    assertTrue(CLASSES.get("org/rfim4j/cli/Main").contains("picocli/CommandLine"));
    assertTrue(CLASSES.get("org/rfim4j/train/ProgressBarListener").contains("me/tongfei/progressbar/"));
    assertTrue(CLASSES.get("org/rfim4j/backend/cuda/CudaBackendProvider").contains("org/rfim4j/backend/cuda/CudaBackend"));
    assertTrue(CLASSES.get("org/rfim4j/nn/Mlp").contains("org/rfim4j/optim/Trainable"));
    assertTrue(CLASSES.get("org/rfim4j/optim/Rngd").contains("org/rfim4j/precond/RngdPreconditioner"));
  }
}
