package org.rfim4j.cli;

import java.io.PrintWriter;
import java.util.concurrent.Callable;
import org.rfim4j.rfim.RankTable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code rank}: prints the paper Section 4 rank table (MATH.md section 7). */
@Command(
    name = "rank",
    mixinStandardHelpOptions = true,
    description = "Print the Section 4 rank table: FIM rank min(2n,14) of a 3-2-2 net, neuron RFIM rank "
        + "min(n,4), layer RFIM rank min(2n,8), for n = 1..N samples.")
public final class RankCommand implements Callable<Integer> {
  @Spec
  CommandSpec spec;

  @Option(names = "--max-n", defaultValue = "12", description = "largest sample count (default ${DEFAULT-VALUE})")
  int maxN;

  @Option(names = "--seed", defaultValue = "" + RankTable.DEFAULT_SEED, description = "random seed (default ${DEFAULT-VALUE})")
  long seed;

  @Override
  public Integer call() {
    PrintWriter err = spec.commandLine().getErr();
    if (maxN < 1 || maxN > 200) {
      err.println("error: --max-n must be in 1..200, got " + maxN);
      err.flush();
      return 2;
    }
    PrintWriter out = spec.commandLine().getOut();
    out.print(RankTable.compute(maxN, seed).format());
    out.flush();
    return 0;
  }
}
