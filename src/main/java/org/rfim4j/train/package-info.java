/**
 * The training loop ({@link org.rfim4j.train.Trainer}), its listeners and presets (progress bar, CSV and
 * JSON learning curves, timing, divergence stop), and checkpoints. Depends on {@code nn}, {@code optim},
 * {@code data} and {@code backend}.
 */
package org.rfim4j.train;
