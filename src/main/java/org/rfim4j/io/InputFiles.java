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
