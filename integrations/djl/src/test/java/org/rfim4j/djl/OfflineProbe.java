package org.rfim4j.djl;

import ai.djl.engine.Engine;
import java.io.IOException;
import java.net.Proxy;
import java.net.ProxySelector;
import java.net.SocketAddress;
import java.net.URI;
import java.net.URL;
import java.net.URLConnection;
import java.net.URLStreamHandler;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.rfim4j.backend.Activation;
import org.rfim4j.nn.MlpConfig;
import org.rfim4j.optim.RngdConfig;

/**
 * Run in a child JVM by {@link OfflineEngineTest}: starts DJL's PyTorch engine and trains two RNGD steps while
 * every network attempt made through Java's URL machinery is recorded and refused. Installed before DJL loads:
 * a {@link java.net.URLStreamHandlerFactory} whose http, https and ftp handlers record the URL and throw (DJL
 * downloads through {@code URL.openConnection}/{@code openStream}), and a {@link ProxySelector} that records
 * every URI any other connection asks a proxy for. Prints {@code KEY=value} lines.
 *
 * <p>Argument {@code offline} configures DJL through {@link DjlOffline#configure()}; {@code control} sets
 * {@code ai.djl.offline=false} instead (with {@code PYTORCH_VERSION} naming another version in the environment,
 * DJL then tries to download): a positive control showing that the recorder sees DJL's download attempts.
 */
public final class OfflineProbe {
  static final List<String> ATTEMPTS = new CopyOnWriteArrayList<>();

  private OfflineProbe() {}

  public static void main(String[] args) {
    URL.setURLStreamHandlerFactory(protocol -> {
      if (!protocol.equals("http") && !protocol.equals("https") && !protocol.equals("ftp")) {
        return null;  // file:, jar:, jrt: as usual
      }
      return new URLStreamHandler() {
        @Override
        protected URLConnection openConnection(URL u) throws IOException {
          ATTEMPTS.add(u.toString());
          throw new IOException("network access refused by OfflineProbe: " + u);
        }

        @Override
        protected URLConnection openConnection(URL u, Proxy p) throws IOException {
          return openConnection(u);  // DJL's telemetry asks for Proxy.NO_PROXY
        }
      };
    });
    ProxySelector.setDefault(new ProxySelector() {
      @Override
      public List<Proxy> select(URI uri) {
        ATTEMPTS.add(uri.toString());
        return Collections.singletonList(Proxy.NO_PROXY);
      }

      @Override
      public void connectFailed(URI uri, SocketAddress sa, IOException ioe) {}
    });
    boolean control = args.length > 0 && args[0].equals("control");
    if (control) {
      System.setProperty("ai.djl.offline", "false");
    } else {
      DjlOffline.configure();
    }
    int rc = 0;
    try {
      Engine e = Engine.getInstance();
      System.out.println("ENGINE=" + e.getEngineName() + " " + e.getVersion());
      MlpConfig cfg = Twins.config(12, new int[] {6, 5}, 3, Activation.RELU, 1e-3);
      var w0 = Twins.weights(cfg, 0.3, 1);
      var batches = Twins.batches(2, 8, 12, 3, 2, 0.0);
      var after = Twins.djl(cfg, w0, RngdConfig.defaults(0.1), batches, Twins.Mistake.NONE).weights();
      System.out.println("TRAINED=" + (after.get(0)[0] != w0.get(0)[0]));
      System.out.println("LIBTORCH_DIR=" + ai.djl.pytorch.jni.LibUtils.getLibtorchPath());
    } catch (Throwable t) {
      System.out.println("FAILED=" + t);
      for (Throwable c = t.getCause(); c != null; c = c.getCause()) {
        System.out.println("CAUSE=" + c);
      }
      rc = 3;
    }
    System.out.println("OFFLINE_MODE=" + DjlOffline.offlineMode());
    for (var p : DjlOffline.loadedLibraries()) {
      System.out.println("LOADED=" + p);
    }
    for (String a : ATTEMPTS) {
      System.out.println("ATTEMPT=" + a);
    }
    System.out.println("ATTEMPTS=" + ATTEMPTS.size());
    System.out.flush();
    System.exit(rc);
  }
}
