package org.rfim4j.io;

import java.io.IOException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;

/**
 * What stands where an input file should be. Opening a FIFO blocks until a writer comes and a device such
 * as {@code /dev/zero} never ends, so readers check first that the path is a regular file (links
 * followed) and report precisely what it is otherwise.
 */
public final class InputFiles {
  private InputFiles() {}

  /**
   * The bytes of a regular file of at most {@code maxBytes}, read as far as its size says and no further (a
   * device such as /dev/zero or a FIFO is refused before it is opened).
   *
   * @param what how messages name the file, e.g. "request file"
   * @throws IllegalArgumentException naming the file and the problem
   */
  public static byte[] readAtMost(Path file, long maxBytes, String what) {
    String problem = problem(file);
    if (problem != null) {
      throw new IllegalArgumentException("cannot read " + what + " " + file + ": it " + problem);
    }
    try (java.io.InputStream in = Files.newInputStream(file)) {
      long size = Files.size(file);
      if (size > maxBytes) {
        throw new IllegalArgumentException(what + " " + file + " is too large: " + size + " bytes, more than the "
            + maxBytes + " accepted");
      }
      byte[] all = in.readNBytes((int) size);
      if (all.length != size || in.read() >= 0) {
        throw new IllegalArgumentException(what + " " + file + " changed while it was read");
      }
      return all;
    } catch (IOException e) {
      throw new IllegalArgumentException("cannot read " + what + " " + file + ": " + AtomicFiles.describe(e));
    }
  }

  /**
   * Null when {@code file} is a regular file (after following links); otherwise what is wrong, as a phrase
   * that follows the file's name: "does not exist", "is a directory", "is not a regular file (a FIFO,
   * socket or device)", "is a symbolic link loop", "is a dangling symbolic link (to X)", or "cannot be
   * read: reason".
   */
  public static String problem(Path file) {
    try {
      BasicFileAttributes a = Files.readAttributes(file, BasicFileAttributes.class);
      if (a.isDirectory()) {
        return "is a directory";
      }
      if (!a.isRegularFile()) {
        return "is not a regular file (a FIFO, socket or device)";
      }
      return null;
    } catch (NoSuchFileException e) {
      if (Files.isSymbolicLink(file)) {
        try {
          return "is a dangling symbolic link (to " + Files.readSymbolicLink(file) + ")";
        } catch (IOException | RuntimeException x) {
          return "is a dangling symbolic link";
        }
      }
      return "does not exist";
    } catch (FileSystemException e) {
      String reason = e.getReason() == null ? "" : e.getReason();
      if (reason.contains("symbolic links")) { // ELOOP: "Too many levels of symbolic links"
        return "is a symbolic link loop";
      }
      return "cannot be read: " + AtomicFiles.describe(e);
    } catch (IOException | RuntimeException e) {
      return "cannot be read: " + (e instanceof IOException io ? AtomicFiles.describe(io) : e.getMessage());
    }
  }
}
