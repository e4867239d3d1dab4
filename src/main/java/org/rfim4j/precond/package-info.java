/**
 * RNGD as a layer-level preconditioner for any Java training code (the user's own loop, Deeplearning4j, DJL):
 * {@link org.rfim4j.precond.RngdPreconditioner} keeps every layer's relative Fisher metric on a
 * {@link org.rfim4j.backend.Backend} (the float64 CPU engine or a GPU) and turns gradients into relative natural
 * gradients; {@link org.rfim4j.precond.LayerSpec} and {@link org.rfim4j.precond.Nu} describe the layers,
 * {@link org.rfim4j.precond.Layouts} converts between a framework's weight layout and rfim4j's. The package
 * depends on the backend seam and on {@link org.rfim4j.optim.RngdConfig} only, never on rfim4j's own network
 * code; {@link org.rfim4j.optim.Rngd} (RNGD for {@link org.rfim4j.nn.Mlp}) is one client of it.
 */
package org.rfim4j.precond;
