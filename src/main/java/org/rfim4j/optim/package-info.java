/**
 * Optimizers (SGD, Adam, RNGD): explicit, checkpointable state plus an update rule expressed in backend
 * operations. Depends on {@code nn} and {@code backend}.
 */
package org.rfim4j.optim;
