package org.rfim4j.cudasim;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Marks a test class or method that needs CUDA: tag {@code gpu} (excluded from the plain unit-test run, run by the
 * {@code cudasim} profile through the simulator or on a GPU machine) plus {@link CudaSimSupport.Condition}, which loads
 * the simulator's stand-in libraries before any JCuda class initialises and skips the test, with the reason, when
 * neither the simulator nor a GPU is there.
 */
@Target({ElementType.TYPE, ElementType.METHOD})
@Retention(RetentionPolicy.RUNTIME)
@Tag("gpu")
@ExtendWith(CudaSimSupport.Condition.class)
public @interface GpuTest {}
