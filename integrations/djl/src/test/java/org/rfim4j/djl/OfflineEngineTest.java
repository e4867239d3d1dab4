package org.rfim4j.djl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Proof that DJL's PyTorch engine runs RNGD without any network access at run time, its native code taken from
 * the Maven artifacts on the classpath. Each case runs {@link OfflineProbe} in a child JVM with a fresh, empty
 * engine cache directory, an environment without any DJL/PyTorch variable, and http(s) proxies pointing at an
 * unroutable address (192.0.2.1, RFC 5737):
 * <ol>
 *   <li>offline ({@link DjlOffline#configure()}): the engine starts and trains; no URL was opened and no
 *       connection asked for a proxy; the libraries the process mapped ({@code /proc/self/maps}) are files in the
 *       fresh cache, byte-identical (SHA-256) to the entries of {@code pytorch-native-cpu-2.7.1-linux-x86_64.jar}
 *       and {@code pytorch-jni-2.7.1-0.36.0.jar}; DJL's download index file was never written;</li>
 *   <li>positive control: offline mode off and {@code PYTORCH_VERSION=2.5.1} (a version not on the classpath):
 *       DJL does try to download from publish.djl.ai and the probe records it, so the recorder would have seen a
 *       download in case 1;</li>
 *   <li>where the kernel allows ({@code unshare -rn}, a new network namespace with no interface up): case 1 again
 *       with no network at all, not even a route; skipped (reported) where unshare is not permitted.</li>
 * </ol>
 */
class OfflineEngineTest {
  private static Path root;

  @BeforeAll
  static void dirs() throws IOException {
    Path target = Path.of(System.getProperty("project.build.directory", "target"));
    Files.createDirectories(target);
    root = Files.createTempDirectory(target.toAbsolutePath(), "offline-probe-");
  }

  @AfterAll
  static void clean() throws IOException {
    if (root != null && Files.exists(root)) {
      try (Stream<Path> s = Files.walk(root)) {
        for (Path p : s.sorted(Comparator.reverseOrder()).collect(Collectors.toList())) {
          Files.deleteIfExists(p);
        }
      }
    }
  }

  /** What a probe run printed. */
  record Probe(int rc, List<String> lines, String output) {
    List<String> values(String key) {
      List<String> out = new ArrayList<>();
      for (String l : lines) {
        if (l.startsWith(key + "=")) {
          out.add(l.substring(key.length() + 1));
        }
      }
      return out;
    }

    String value(String key) {
      List<String> v = values(key);
      return v.isEmpty() ? null : v.get(v.size() - 1);
    }
  }

  static Probe probe(List<String> prefix, Path cache, Map<String, String> env, String mode) throws Exception {
    String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
    List<String> cmd = new ArrayList<>(prefix);
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.addAll(List.of("-cp", cp, "-DENGINE_CACHE_DIR=" + cache, "-DDJL_CACHE_DIR=" + cache.resolve("djl"),
        "-Dhttp.proxyHost=192.0.2.1", "-Dhttp.proxyPort=9", "-Dhttps.proxyHost=192.0.2.1", "-Dhttps.proxyPort=9",
        "-Dorg.slf4j.simpleLogger.defaultLogLevel=info", OfflineProbe.class.getName(), mode));
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    Map<String, String> e = pb.environment();
    for (String k : List.of("DJL_OFFLINE", "PYTORCH_VERSION", "PYTORCH_LIBRARY_PATH", "PYTORCH_FLAVOR",
        "PYTORCH_PRECXX11", "ENGINE_CACHE_DIR", "DJL_CACHE_DIR", "OPT_OUT_TRACKING", "DJL_DEFAULT_ENGINE",
        "PYTORCH_EXTRA_LIBRARY_PATH", "JAVA_TOOL_OPTIONS")) {
      e.remove(k);
    }
    e.putAll(env);
    Process p = pb.start();
    byte[] out = p.getInputStream().readAllBytes();
    if (!p.waitFor(240, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new AssertionError("probe did not finish in 240 s");
    }
    String text = new String(out, StandardCharsets.UTF_8);
    return new Probe(p.exitValue(), text.lines().collect(Collectors.toList()), text);
  }

  static String sha256(InputStream in) throws Exception {
    MessageDigest md = MessageDigest.getInstance("SHA-256");
    try (DigestInputStream d = new DigestInputStream(in, md)) {
      d.transferTo(OutputStreamSink.INSTANCE);
    }
    return HexFormat.of().formatHex(md.digest());
  }

  /** Discards bytes (the digest stream does the work). */
  static final class OutputStreamSink extends java.io.OutputStream {
    static final OutputStreamSink INSTANCE = new OutputStreamSink();

    @Override
    public void write(int b) {}

    @Override
    public void write(byte[] b, int off, int len) {}
  }

  static String resourceSha(String name) throws Exception {
    try (InputStream in = OfflineEngineTest.class.getClassLoader().getResourceAsStream(name)) {
      assertTrue(in != null, "classpath resource " + name);
      return sha256(in);
    }
  }

  /** Case 1 plus its checks; returns the library directory. */
  static Path assertOfflineRun(Probe r, Path cache) throws Exception {
    assertEquals(0, r.rc(), r.output());
    assertEquals("true", r.value("TRAINED"), r.output());
    assertEquals("true", r.value("OFFLINE_MODE"), r.output());
    assertEquals("0", r.value("ATTEMPTS"), "network attempts recorded:\n" + r.output());
    assertTrue(r.value("ENGINE").startsWith("PyTorch 2.7.1"), r.output());
    Path libDir = Path.of(r.value("LIBTORCH_DIR")).toRealPath();
    assertTrue(libDir.startsWith(cache.toRealPath()), "libraries from " + libDir + ", not the fresh cache " + cache);
    // every mapped torch/c10/gomp library is a file of the fresh cache
    List<String> loaded = r.values("LOADED");
    assertTrue(loaded.stream().anyMatch(l -> l.endsWith("/libtorch_cpu.so")), "libtorch_cpu.so mapped: " + loaded);
    assertTrue(loaded.stream().anyMatch(l -> l.endsWith("libdjl_torch.so")), "JNI library mapped: " + loaded);
    for (String l : loaded) {
      assertTrue(Path.of(l).toRealPath().startsWith(cache.toRealPath()), "library mapped from outside the cache: " + l);
    }
    // byte-identical to the Maven artifacts' entries
    var props = DjlOffline.bundledNative();
    String prefix = "pytorch/" + props.getProperty("flavor") + "/" + props.getProperty("classifier") + "/";
    for (String lib : DjlOffline.bundledLibraries()) {
      try (InputStream in = Files.newInputStream(libDir.resolve(lib))) {
        assertEquals(resourceSha(prefix + lib), sha256(in), lib + " differs from the pytorch-native-cpu jar's entry");
      }
    }
    String jni = "jnilib/" + props.getProperty("classifier") + "/" + props.getProperty("flavor") + "/libdjl_torch.so";
    try (InputStream in = Files.newInputStream(libDir.resolve("0.36.0-libdjl_torch.so"))) {
      assertEquals(resourceSha(jni), sha256(in), "JNI library differs from the pytorch-jni jar's entry");
    }
    // DJL's download path writes an index file <version>.txt into the cache; the classpath path does not
    try (Stream<Path> s = Files.walk(cache)) {
      List<Path> idx = s.filter(p -> p.getFileName().toString().endsWith(".txt")).collect(Collectors.toList());
      assertTrue(idx.isEmpty(), "download index written: " + idx);
    }
    assertTrue(r.output().contains("Extracting " + prefix + "libtorch_cpu.so to cache"), r.output());
    return libDir;
  }

  @Test
  void trainsOfflineWithTheClasspathLibraries() throws Exception {
    Path cache = Files.createDirectory(root.resolve("fresh"));
    Probe r = probe(List.of(), cache, Map.of(), "offline");
    Path libDir = assertOfflineRun(r, cache);
    System.out.println("offline probe: engine " + r.value("ENGINE") + ", libraries extracted to " + libDir
        + " from the classpath jars (SHA-256 identical), mapped " + r.values("LOADED") + ", network attempts "
        + r.value("ATTEMPTS"));
  }

  @Test
  void positiveControlTheRecorderSeesDjlDownloading() throws Exception {
    Path cache = Files.createDirectory(root.resolve("control"));
    Probe r = probe(List.of(), cache, Map.of("PYTORCH_VERSION", "2.5.1"), "control");
    assertNotEquals(0, r.rc(), r.output());
    assertFalse(r.values("ATTEMPT").isEmpty(), r.output());
    assertTrue(r.values("ATTEMPT").stream().anyMatch(a -> a.startsWith("https://publish.djl.ai/pytorch/2.5.1")),
        "DJL's download attempt not recorded:\n" + r.output());
    System.out.println("positive control: DJL tried " + r.values("ATTEMPT"));
  }

  @Test
  void trainsWithNoNetworkAtAll() throws Exception {
    boolean unshare;
    try {
      Process p = new ProcessBuilder("unshare", "-rn", "true").redirectErrorStream(true).start();
      p.getInputStream().readAllBytes();
      unshare = p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0;
    } catch (IOException e) {
      unshare = false;
    }
    if (!unshare) {
      System.out.println("no-network case skipped: 'unshare -rn' is not available or not permitted here");
    }
    Assumptions.assumeTrue(unshare, "unshare -rn not permitted");
    Path cache = Files.createDirectory(root.resolve("netns"));
    Probe r = probe(List.of("unshare", "-rn"), cache, Map.of(), "offline");
    assertOfflineRun(r, cache);
    System.out.println("no-network probe (unshare -rn): engine " + r.value("ENGINE") + " trained, libraries from "
        + r.value("LIBTORCH_DIR"));
  }
}
