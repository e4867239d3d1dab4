package org.rfim4j.io;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

/**
 * Writes files through a temporary sibling and an atomic rename, so no reader sees half a file.
 *
 * <p>Durability: the temporary file's data is forced to the disk ({@code fsync}) before the rename, and the
 * directory after it. A reader, or the same machine after a crash or power loss, therefore finds either the
 * old complete file or the new complete file under the target name, never a mix or an empty file; once
 * {@link #write} returns, the new file survives a power loss (on file systems that honour {@code fsync} for
 * files and directories, as ext4, xfs and btrfs do). A process killed during a write leaves at most its
 * temporary file ({@code .NAME.RANDOM.tmp}), which {@link #removeStale} removes.
 */
public final class AtomicFiles {
  private static final SecureRandom RANDOM = new SecureRandom();

  private AtomicFiles() {}

  /** Writes {@code text} to {@code target} atomically, creating parent directories. */
  public static void writeString(Path target, String text) {
    write(target, text.getBytes(StandardCharsets.UTF_8));
  }

  /** Writes bytes to {@code target} atomically and durably, creating parent directories. */
  public static void write(Path target, byte[] bytes) {
    try {
      Path dir = target.toAbsolutePath().getParent();
      Files.createDirectories(dir);
      // Not Files.createTempFile: it makes the file 0600 whatever the umask. A fresh name, created here
      // (CREATE_NEW), gets the mode every other file of the process gets.
      Path tmp = dir.resolve("." + target.getFileName() + "." + Long.toUnsignedString(RANDOM.nextLong(), 36)
          + ".tmp");
      try {
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
          ByteBuffer b = ByteBuffer.wrap(bytes);
          while (b.hasRemaining()) {
            ch.write(b);
          }
          ch.force(true); // the data is on the disk before a name points at it
        }
        Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        syncDirectory(dir); // and the rename itself
      } finally {
        Files.deleteIfExists(tmp);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + target + ": " + describe(e), e);
    }
  }

  /** Forces a directory's entries to the disk; file systems that cannot (some network ones) are left as they are. */
  static void syncDirectory(Path dir) {
    try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
      ch.force(true);
    } catch (IOException | RuntimeException e) {
      // not supported here: the rename is still atomic, only its durability is up to the file system
    }
  }

  /**
   * Removes the temporary files that writes of {@code names} in {@code dir} leave behind when the process
   * is killed: regular files named {@code .NAME*.tmp} (this class's {@code .NAME.RANDOM.tmp}, and the
   * {@code .NAMEdigits.tmp} of earlier versions). Call it before writing there again; nothing else may
   * write those names at the same time.
   *
   * @return the files removed
   */
  public static List<Path> removeStale(Path dir, Collection<String> names) {
    List<Path> removed = new ArrayList<>();
    if (!Files.isDirectory(dir)) {
      return removed;
    }
    try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir, ".*.tmp")) {
      for (Path p : entries) {
        String f = p.getFileName().toString();
        boolean ours = names.stream().anyMatch(n -> f.startsWith("." + n));
        if (ours && Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS) && Files.deleteIfExists(p)) {
          removed.add(p);
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot clean temporary files in " + dir + ": " + describe(e), e);
    }
    if (!removed.isEmpty()) {
      syncDirectory(dir);
    }
    return removed;
  }

  /** A short reason for an I/O failure: "permission denied", "no such directory: X", or the message. */
  public static String describe(IOException e) {
    if (e instanceof java.nio.file.AccessDeniedException) {
      return "permission denied (" + e.getMessage() + ")";
    }
    if (e instanceof java.nio.file.NoSuchFileException) {
      return "no such file or directory: " + e.getMessage();
    }
    if (e instanceof java.nio.file.FileSystemException) {
      java.nio.file.FileSystemException f = (java.nio.file.FileSystemException) e;
      return (f.getReason() != null ? f.getReason() : e.getClass().getSimpleName()) + " (" + f.getFile() + ")";
    }
    return e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
  }
}
