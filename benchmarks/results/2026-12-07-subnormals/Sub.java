import org.rfim4j.backend.*;
import org.rfim4j.backend.cpu.*;
import org.rfim4j.data.*;
import org.rfim4j.nn.*;
import org.rfim4j.optim.*;
import org.rfim4j.train.*;
import java.util.*;
public class Sub {
  static String count(Backend b, DeviceArray a) { double[] v = b.download(a); int sub=0, zero=0; double lim = b.precisionBits()==32 ? Float.MIN_NORMAL : Double.MIN_NORMAL; for (double x : v) { if (x == 0) zero++; else if (Math.abs(x) < lim) sub++; } return "subnormal " + sub + " zero " + zero + " of " + v.length; }
  public static void main(String[] a) throws Exception {
    String opt = a[0]; int p = Integer.parseInt(a[1]); int epochs = Integer.parseInt(a[2]);
    Split mnist = Datasets.load("mnist", DataDirs.resolve(null));
    Backend b = p == 32 ? new CpuBackend32() : new CpuBackend();
    Mlp model = new Mlp(b, MlpConfig.paper(Architecture.PLAIN, 1), 500);
    Optimizer o = opt.equals("rngd") ? new Rngd(model, RngdConfig.defaults(0.03)) : OptimizerSpec.adam(1e-3).create(model);
    try (Trainer t = new Trainer(model, o, TrainerConfig.of(epochs, 50, 1)).retainDeviceData()) {
      double last = 0;
      for (EpochResult r : t.fit(mnist.train(), mnist.validation())) { System.out.printf("epoch %d %.2f s val %.2f%%%n", r.epoch(), r.seconds() - last, 100 * r.valError()); last = r.seconds(); }
    }
    int l = 0; for (var prm : model.parameters()) System.out.println("param " + (l++) + " " + count(b, prm.value()) + " | grad " + count(b, prm.grad()));
    { double[] w = b.download(model.parameters().get(0).value()); int[] h = new int[8]; for (double x : w) { double ax = Math.abs(x); int k = ax < 1e-36 ? 0 : ax < 1e-30 ? 1 : ax < 1e-20 ? 2 : ax < 1e-10 ? 3 : ax < 1e-5 ? 4 : ax < 1e-3 ? 5 : ax < 1e-1 ? 6 : 7; h[k]++; } System.out.println("|W1| <1e-36,<1e-30,<1e-20,<1e-10,<1e-5,<1e-3,<0.1,>=0.1: " + java.util.Arrays.toString(h));
      double[] g = b.download(model.parameters().get(0).grad()); int[] hg = new int[8]; for (double x : g) { double ax = Math.abs(x); int k = ax == 0 ? 0 : ax < 1e-38 ? 1 : ax < 1e-30 ? 2 : ax < 1e-20 ? 3 : ax < 1e-10 ? 4 : ax < 1e-5 ? 5 : 6; hg[k]++; } System.out.println("|gW1| 0,<1e-38,<1e-30,<1e-20,<1e-10,<1e-5,>=: " + java.util.Arrays.toString(hg)); }
    for (var e : model.namedArrays().entrySet()) System.out.println("  " + e.getKey() + " " + count(b, e.getValue()));
    if (o instanceof Rngd) { var pc = ((Rngd) o).preconditioner(); for (int i = 1; i <= 4; i++) { System.out.println("W" + i + " metric " + count(b, pc.metric("W" + i)) + " | inverse " + count(b, pc.inverse("W" + i))); } }
  }
}
