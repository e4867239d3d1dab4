package org.rfim4j.testutil;

import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * A class loader for checking that code paths never touch JCuda: it defines every org.rfim4j class itself (so
 * the classes it hands out resolve their references through it), records every class asked for and refuses
 * jcuda.*; everything else comes from the test class path.
 */
public final class NoJcudaLoader extends ClassLoader {
  /** Every class name asked for, in order. */
  public final List<String> requested = Collections.synchronizedList(new ArrayList<>());

  /** The jcuda.* classes asked for (all refused). */
  public List<String> jcuda() {
    synchronized (requested) {
      return requested.stream().filter(n -> n.startsWith("jcuda.")).toList();
    }
  }

  public NoJcudaLoader() {
    super(NoJcudaLoader.class.getClassLoader());
  }

  @Override
  protected Class<?> loadClass(String name, boolean resolve) throws ClassNotFoundException {
    requested.add(name);
    if (name.startsWith("jcuda.")) {
      throw new ClassNotFoundException("JCuda must not be loaded here: " + name);
    }
    if (!name.startsWith("org.rfim4j.")) {
      return super.loadClass(name, resolve);
    }
    synchronized (getClassLoadingLock(name)) {
      Class<?> c = findLoadedClass(name);
      if (c == null) {
        try (InputStream in = getParent().getResourceAsStream(name.replace('.', '/') + ".class")) {
          if (in == null) {
            throw new ClassNotFoundException(name);
          }
          byte[] b = in.readAllBytes();
          c = defineClass(name, b, 0, b.length);
        } catch (IOException e) {
          throw new ClassNotFoundException(name, e);
        }
      }
      return c;
    }
  }
}
