import org.rfim4j.backend.*;
import org.rfim4j.backend.cpu.*;
import org.rfim4j.nn.*;
import org.rfim4j.optim.*;
import java.util.*;
public class Den {
  public static void main(String[] a) {
    String opt = a[0]; int p = Integer.parseInt(a[1]);
    Backend inner = p == 32 ? new CpuBackend32() : new CpuBackend();
    ProfilingBackend b = new ProfilingBackend(inner, true);
    SplittableRandom rng = new SplittableRandom(7);
    int B = 50, N = 32;
    DeviceArray[] xs = new DeviceArray[N], ys = new DeviceArray[N];
    for (int i = 0; i < N; i++) {
      xs[i] = b.allocate(B, 784); double[] v = new double[B*784]; for (int j=0;j<v.length;j++) v[j]=rng.nextDouble(); b.upload(xs[i], v);
      ys[i] = b.allocate(B, 1); double[] y = new double[B]; for (int k=0;k<B;k++) y[k]=rng.nextInt(10); b.upload(ys[i], y);
    }
    DeviceArray stats = b.allocate(2);
    Mlp model = new Mlp(b, MlpConfig.paper(Architecture.PLAIN, 42), B);
    Optimizer o = (opt.equals("adam") ? OptimizerSpec.adam(1e-3) : opt.equals("sgd") ? OptimizerSpec.sgd(0.1) : OptimizerSpec.rngd(RngdConfig.defaults(0.1))).create(model);
    int next = 0;
    int R = a.length > 2 ? Integer.parseInt(a[2]) : 8; for (int round = 0; round < R; round++) {
      long t0 = System.nanoTime();
      for (int s = 0; s < 500; s++) { int i = next; next = (i+1)%N; model.forward(xs[i], true, true); model.lossAndGradient(ys[i], stats); o.step(); }
      b.synchronize();
      System.out.printf("%s p%d steps %d-%d: %.1f us/step%n", opt, p, round*500, round*500+499, (System.nanoTime()-t0)/500e3);
      if (round == R - 1) {
        for (var e : model.namedArrays().entrySet()) { double[] v = b.download(e.getValue()); int sub=0, zero=0; for (double x : v) { if (x == 0) zero++; else if (Math.abs(x) < Float.MIN_NORMAL) sub++; } if (sub > 0) System.out.println("  " + e.getKey() + " " + Arrays.toString(e.getValue().shape()) + " subnormal " + sub + " zero " + zero); }
        int t = 0; for (var prm : model.parameters()) { t++; for (var arr : new DeviceArray[]{prm.value(), prm.grad()}) { double[] v = b.download(arr); int sub=0; for (double x : v) if (x != 0 && Math.abs(x) < Float.MIN_NORMAL) sub++; if (sub > 0) System.out.println("  param " + t + " subnormal " + sub); } }
      }
    }
  }
}
