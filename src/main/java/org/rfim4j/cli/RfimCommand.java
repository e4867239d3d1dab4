package org.rfim4j.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
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
      text = Files.readString(request, StandardCharsets.UTF_8);
    } catch (IOException | RuntimeException e) {
      err.println("error: cannot read request file " + request + ": " + oneLine(e.toString()));
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
