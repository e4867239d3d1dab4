package org.rfim4j.cli;

import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.rfim4j.io.InputFiles;
import org.rfim4j.rfim.RfimRequest;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code rfim --request FILE.json}: computes a closed-form RFIM (see {@link RfimRequest}) and prints
 * {@code {"metric": [[...]], "rank": r}} to stdout. Bad input or an unreadable file: one line {@code
 * error: ...} on stderr and exit code 2.
 */
@Command(
    name = "rfim",
    mixinStandardHelpOptions = true,
    description = "Compute a closed-form relative Fisher information metric from a JSON request "
        + "(kind: neuron | linear | nonlinear | softmax | two-layer); prints {\"metric\": ..., \"rank\": r}.")
public final class RfimCommand implements Callable<Integer> {
  /** Exit code for bad input. */
  public static final int EXIT_BAD_INPUT = 2;

  /** The largest request file read (16 MiB). */
  public static final long MAX_REQUEST_BYTES = 16L << 20;

  @Spec
  CommandSpec spec;

  @Option(names = "--request", required = true, paramLabel = "FILE.json", description = "the JSON request file")
  Path request;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    String text;
    try {
      text = new String(InputFiles.readAtMost(request, MAX_REQUEST_BYTES, "request file"), StandardCharsets.UTF_8);
    } catch (IllegalArgumentException e) {
      err.println("error: " + oneLine(e.getMessage()));
      err.flush();
      return EXIT_BAD_INPUT;
    }
    String json;
    try {
      json = RfimRequest.parse(text).computeJson();
    } catch (IllegalArgumentException e) {
      err.println("error: " + oneLine(e.getMessage()));
      err.flush();
      return EXIT_BAD_INPUT;
    }
    out.println(json);
    out.flush();
    return 0;
  }

  private static String oneLine(String s) {
    return s == null ? "" : s.replaceAll("\\s+", " ").trim();
  }
}
