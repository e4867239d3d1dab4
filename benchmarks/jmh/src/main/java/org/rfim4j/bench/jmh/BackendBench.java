package org.rfim4j.bench.jmh;

import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;
import org.rfim4j.backend.Backend;

/**
 * What every benchmark of the suite shares (JMH's annotations are inherited): average time in µs per
 * operation, 2 x 1 s warm-up, 3 x 1 s measurement, one fork with a 4 GB heap, and the {@code backend}
 * parameter. Each subclass opens {@link #b} with {@link Backends#open} in its set-up and closes it last
 * in its tear-down.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = {"-Xmx4g"})
public abstract class BackendBench {
  /** The backend by name ({@code cpu}, {@code cpu32}, {@code cpu64}, {@code cuda}), as {@link Backends#open} resolves it. */
  @Param({"cpu"})
  public String backend;

  protected Backend b;
}
