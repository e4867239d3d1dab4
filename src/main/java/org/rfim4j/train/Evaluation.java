package org.rfim4j.train;

/** Mean cross-entropy and error rate of a model on a dataset. */
public record Evaluation(double loss, double error, int n) {}
