package org.rfim4j.backend;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;

/**
 * Access to the CUDA backend for the selector, through the {@link BackendProvider} registered under the
 * name {@code cuda} (org.rfim4j.backend.cuda registers it in META-INF/services): this package references no
 * class of the CUDA backend. Asking the provider for availability loads no JCuda class, so probing is safe
 * everywhere; the backend (and with it JCuda's natives) is touched only after the probe found a driver, a
 * device node and the CUDA libraries.
 */
final class GpuBackends {
  private GpuBackends() {}

  /** The provider name of the CUDA backend. */
  static final String CUDA = "cuda";

  /** A provider by name, or null with the reason in {@code why[0]}. */
  private static BackendProvider provider(String name, String[] why) {
    Map<String, BackendProvider> found = new LinkedHashMap<>();
    List<String> errors = new ArrayList<>();
    ClassLoader own = BackendProvider.class.getClassLoader();
    ClassLoader context = Thread.currentThread().getContextClassLoader();
    List<ClassLoader> loaders = new ArrayList<>();
    loaders.add(own);
    if (context != null && context != own) {
      loaders.add(context);
    }
    for (ClassLoader loader : loaders) {
      collect(ServiceLoader.load(BackendProvider.class, loader), found, errors);
    }
    BackendProvider p = found.get(name);
    if (p == null) {
      why[0] = "CUDA unavailable:\n  - no '" + name + "' backend provider on the class path (no entry in"
          + " META-INF/services/" + BackendProvider.class.getName() + (found.isEmpty() ? "" : "; found " + found.keySet())
          + ")" + (errors.isEmpty() ? "" : "\n  provider errors: " + String.join("; ", errors));
    }
    return p;
  }

  private static void collect(ServiceLoader<BackendProvider> services, Map<String, BackendProvider> found,
      List<String> errors) {
    Iterator<BackendProvider> it = services.iterator();
    // A broken registration (missing or foreign class) is reported, not thrown; bounded in case the
    // iterator cannot get past it.
    for (int guard = 0; guard < 64; guard++) {
      try {
        if (!it.hasNext()) {
          return;
        }
        BackendProvider p = it.next();
        found.putIfAbsent(p.name(), p);
      } catch (ServiceConfigurationError | RuntimeException | LinkageError e) {
        errors.add(String.valueOf(e.getMessage()));
      }
    }
  }

  /** Null when a GPU backend can be opened, else the multi-line diagnosis. */
  static String unavailableReason() {
    String[] why = new String[1];
    BackendProvider p = provider(CUDA, why);
    if (p == null) {
      return why[0];
    }
    return reason(p);
  }

  private static String reason(BackendProvider p) {
    BackendProvider.Availability a;
    try {
      a = p.availability();
    } catch (RuntimeException | LinkageError e) {  // a provider must not throw; say so if one does
      return "CUDA unavailable:\n  - the '" + p.name() + "' provider's availability check failed: " + e;
    }
    return a != null && a.available() ? null
        : a == null || a.diagnosis().isBlank() ? "CUDA unavailable (the provider gave no diagnosis)" : a.diagnosis();
  }

  static Backend openCuda() {
    String[] why = new String[1];
    BackendProvider p = provider(CUDA, why);
    if (p != null) {
      why[0] = reason(p);
    }
    if (why[0] != null) {
      throw new BackendUnavailableException("--device cuda: no usable GPU on this machine\n" + why[0], null);
    }
    try {
      return p.open();
    } catch (RuntimeException | LinkageError e) {
      throw new BackendUnavailableException("--device cuda: the CUDA backend failed to start: " + e.getMessage(), e);
    }
  }
}
