package org.rfim4j.nn;

import org.rfim4j.backend.DeviceArray;

/**
 * A trainable tensor with its gradient buffer. {@code layer} is the index of the dense layer it belongs
 * to (0-based, input layer first).
 */
public record Parameter(String name, ParameterRole role, int layer, DeviceArray value, DeviceArray grad) {}
