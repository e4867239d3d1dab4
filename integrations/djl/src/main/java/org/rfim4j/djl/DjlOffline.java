package org.rfim4j.djl;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Properties;
import java.util.Set;

/**
 * Running DJL's PyTorch engine without network access: the native libraries come from the
 * {@code ai.djl.pytorch:pytorch-native-cpu} jar (classifier {@code linux-x86_64}) and the JNI bridge from
 * {@code ai.djl.pytorch:pytorch-jni}, both on the classpath, extracted once into DJL's engine cache.
 *
 * <p>What DJL 0.36.0 would otherwise reach for (read from its sources, {@code ai.djl.pytorch.jni.LibUtils},
 * {@code ai.djl.util.Utils}, {@code ai.djl.util.Ec2Utils}):
 * <ul>
 *   <li>native libraries from {@code https://publish.djl.ai/pytorch/...} when no {@code native/lib/pytorch.properties}
 *       is on the classpath, or when {@code PYTORCH_VERSION} names another version than the jar's;</li>
 *   <li>the JNI library from the same site when the {@code pytorch-jni} jar is missing or of another version;</li>
 *   <li>a telemetry request (EC2 metadata at 169.254.169.254, then S3) when the engine first starts, unless
 *       offline mode or {@code OPT_OUT_TRACKING} is set.</li>
 * </ul>
 * {@link #configure()} sets offline mode ({@code ai.djl.offline=true}: DJL's {@code Utils.openUrl} then refuses
 * every http(s) URL) and {@code OPT_OUT_TRACKING=true}, and refuses environment settings that would send DJL
 * to the network. Call it before anything touches DJL's {@code Engine} (its static initialiser sends the
 * telemetry request). {@link #loadedLibraries()} says where the loaded libraries came from.
 */
public final class DjlOffline {
  /** The classpath resource that tells DJL which bundled PyTorch it has. */
  public static final String NATIVE_PROPERTIES = "native/lib/pytorch.properties";

  private DjlOffline() {}

  /**
   * Sets DJL's offline mode, telemetry opt-out and PyTorch as the default engine (unless set already), and
   * checks that the classpath carries the native PyTorch libraries and that no environment variable asks for
   * a download.
   *
   * @throws IllegalStateException naming the setting that would make DJL download
   */
  public static void configure() {
    String envOffline = System.getenv("DJL_OFFLINE");
    if (envOffline != null && !Boolean.parseBoolean(envOffline)) {
      throw new IllegalStateException("DJL_OFFLINE=" + envOffline + " in the environment switches DJL's offline mode"
          + " off (it overrides -Dai.djl.offline); unset it");
    }
    String prop = System.getProperty("ai.djl.offline");
    if (prop != null && !Boolean.parseBoolean(prop)) {
      throw new IllegalStateException("-Dai.djl.offline=" + prop + " switches DJL's offline mode off; remove it");
    }
    System.setProperty("ai.djl.offline", "true");
    if (System.getenv("OPT_OUT_TRACKING") == null) {
      System.setProperty("OPT_OUT_TRACKING", "true");
    }
    if (System.getProperty("ai.djl.default_engine") == null && System.getenv("DJL_DEFAULT_ENGINE") == null) {
      System.setProperty("ai.djl.default_engine", "PyTorch");
    }
    Properties p = bundledNative();
    String bundled = p.getProperty("version", "");
    String override = getEnvOrProperty("PYTORCH_VERSION");
    if (override != null && !override.isEmpty() && !bundled.startsWith(override)) {
      throw new IllegalStateException("PYTORCH_VERSION=" + override + " asks DJL for another PyTorch than the "
          + "bundled " + bundled + " (it would download it); unset it");
    }
  }

  /** The properties of the bundled native PyTorch (version, flavor, classifier, libraries). */
  public static Properties bundledNative() {
    Properties p = new Properties();
    try (InputStream in = DjlOffline.class.getClassLoader().getResourceAsStream(NATIVE_PROPERTIES)) {
      if (in == null) {
        throw new IllegalStateException("no " + NATIVE_PROPERTIES + " on the classpath: add "
            + "ai.djl.pytorch:pytorch-native-cpu:2.7.1 (classifier linux-x86_64) as a dependency, or DJL downloads "
            + "the native libraries");
      }
      p.load(in);
    } catch (IOException e) {
      throw new IllegalStateException("cannot read " + NATIVE_PROPERTIES + ": " + e.getMessage(), e);
    }
    return p;
  }

  private static String getEnvOrProperty(String name) {
    String v = System.getenv(name);
    return v != null ? v : System.getProperty(name);
  }

  /** Whether DJL's offline mode is on as DJL reads it (environment first, then the property). */
  public static boolean offlineMode() {
    String env = System.getenv("DJL_OFFLINE");
    return Boolean.parseBoolean(env != null ? env : System.getProperty("ai.djl.offline"));
  }

  /**
   * The native libraries this process has mapped whose names mention torch, c10 or gomp, read from
   * {@code /proc/self/maps} (Linux): where the engine's code actually came from.
   */
  public static List<Path> loadedLibraries() {
    Set<Path> out = new LinkedHashSet<>();
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/maps"))) {
        int slash = line.indexOf('/');
        if (slash < 0) {
          continue;
        }
        String path = line.substring(slash).trim();
        String name = path.substring(path.lastIndexOf('/') + 1);
        if (name.contains("torch") || name.startsWith("libc10") || name.startsWith("libgomp")) {
          out.add(Path.of(path));
        }
      }
    } catch (IOException e) {
      return List.of();
    }
    return new ArrayList<>(out);
  }

  /** The bundled library names ({@code libraries=} of {@link #NATIVE_PROPERTIES}). */
  public static List<String> bundledLibraries() {
    return Arrays.asList(bundledNative().getProperty("libraries", "").split(","));
  }
}
