package org.rfim4j.cli;

import java.io.PrintWriter;
import java.io.UncheckedIOException;
import org.rfim4j.data.DatasetException;
import org.rfim4j.train.TrainingStoppedException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code rfim4j} command line. Bad input ends with exit code 2 and one line on stderr. */
@Command(name = "rfim4j", mixinStandardHelpOptions = true, version = "rfim4j 0.1.0",
    description = "Relative Fisher information metrics and relative natural gradient descent (RNGD).",
    subcommands = {TrainCommand.class, CompareCommand.class, ReproduceCommand.class, RfimCommand.class,
        RankCommand.class, BenchCommand.class, DoctorCommand.class,
        CommandLine.HelpCommand.class})
public final class Main implements Runnable {

  /** Exit code for bad input (arguments, files) and failed runs. */
  public static final int USAGE = 2;

  @CommandLine.Spec
  CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getOut());
  }

  public static void main(String[] args) {
    int code;
    try {
      code = execute(args);
    } catch (OutOfMemoryError e) {
      // The estimates made before large allocations should prevent this; if one was short, still one line.
      System.err.println("error: out of memory (JVM limit " + org.rfim4j.io.Memory.human(Runtime.getRuntime()
          .maxMemory()) + "; raise it with -Xmx, e.g. RFIM4J_JAVA_OPTS=-Xmx16g for ./rfim4j)");
      code = USAGE;
    }
    System.exit(code);
  }

  /** Runs the CLI and returns the exit code (tests call this). */
  public static int execute(String... args) {
    return commandLine().execute(args);
  }

  /** The configured picocli command line: one-line errors, no stack traces for expected failures. */
  public static CommandLine commandLine() {
    CommandLine cl = new CommandLine(new Main());
    cl.setParameterExceptionHandler((ex, a) -> {
      PrintWriter err = ex.getCommandLine().getErr();
      err.println("error: " + firstLine(ex.getMessage()) + " (see: "
          + ex.getCommandLine().getCommandSpec().qualifiedName() + " --help)");
      return USAGE;
    });
    cl.setExecutionExceptionHandler((ex, commandLine, parseResult) -> {
      PrintWriter err = commandLine.getErr();
      if (ex instanceof org.rfim4j.backend.BackendUnavailableException) {
        // The first line only; the diagnosis (what the probe found, where it looked, what to do) is the doctor's.
        err.println("error: " + firstLine(ex.getMessage()) + " (for the diagnosis run: rfim4j doctor)");
        return USAGE;
      }
      if (ex instanceof IllegalArgumentException || ex instanceof DatasetException
          || ex instanceof IllegalStateException || ex instanceof UncheckedIOException
          || ex instanceof TrainingStoppedException) {
        err.println("error: " + firstLine(ex.getMessage()));
        return USAGE;
      }
      throw ex;
    });
    return cl;
  }

  static String firstLine(String s) {
    if (s == null) {
      return "(no message)";
    }
    return s.lines().findFirst().orElse(s);
  }
}
