package org.rfim4j.train;

/** What a run is, for listeners: optimizer, model description, sizes. */
public record TrainingInfo(String optimizer, String model, String backend, int epochs, int stepsPerEpoch,
    int batchSize, int trainSize, int validationSize) {}
