package org.rfim4j.data;

import java.nio.file.Path;
import java.util.Map;

/** Where the datasets live. */
public final class DataDirs {

  /** The environment variable that names the data directory. */
  public static final String ENV = "RFIM4J_DATA";

  /** The directory used when neither a flag nor {@value #ENV} names one, relative to the working directory. */
  public static final Path DEFAULT = Path.of("data");

  private DataDirs() {}

  /**
   * The data directory, chosen in this order:
   *
   * <ol>
   *   <li>{@code flagValue}, when not null (e.g. a {@code --data-dir} command-line option);
   *   <li>else the environment variable {@value #ENV}, when set and not blank;
   *   <li>else {@code ./data} (relative to the working directory; {@code scripts/fetch-data} writes to
   *       {@code <repo root>/data} by default).
   * </ol>
   *
   * The directory is not required to exist; {@link Datasets#load} reports missing files.
   */
  public static Path resolve(Path flagValue) {
    return resolve(flagValue, System.getenv());
  }

  /** As {@link #resolve(Path)}, reading {@value #ENV} from {@code env} instead of the process environment. */
  public static Path resolve(Path flagValue, Map<String, String> env) {
    if (flagValue != null) {
      return flagValue;
    }
    String fromEnv = env.get(ENV);
    if (fromEnv != null && !fromEnv.isBlank()) {
      return Path.of(fromEnv.strip());
    }
    return DEFAULT;
  }
}
