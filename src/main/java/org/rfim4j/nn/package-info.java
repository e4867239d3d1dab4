/**
 * The model: {@link org.rfim4j.nn.Mlp} (dense layers, activations, batch norm, softmax cross-entropy),
 * written once against {@link org.rfim4j.backend.Backend}. Depends only on the backend package.
 */
package org.rfim4j.nn;
