/**
 * Datasets: reading IDX files (MNIST, Fashion-MNIST) into dense in-memory {@link org.rfim4j.data.Dataset}s.
 *
 * <ul>
 *   <li>{@link org.rfim4j.data.Idx} reads and writes {@code idx1-ubyte} labels and {@code idx3-ubyte}
 *       images, plain or gzip-compressed, and validates them.
 *   <li>{@link org.rfim4j.data.Datasets#load(String, java.nio.file.Path)} loads {@code mnist} or
 *       {@code fashion} from a data directory as a {@link org.rfim4j.data.Split}: train (first 50,000 of the
 *       training file), validation (last 10,000) and test (the t10k files).
 *   <li>{@link org.rfim4j.data.DataDirs#resolve(java.nio.file.Path)} picks the data directory: flag, then
 *       {@code $RFIM4J_DATA}, then {@code ./data}.
 * </ul>
 *
 * <p>Every problem with the files (missing, truncated, wrong magic number, labels out of range, counts that
 * disagree) is reported as an unchecked {@link org.rfim4j.data.DatasetException} with a one-line message
 * that names the file and the problem. The files themselves come from {@code scripts/fetch-data}.
 *
 * <p>There is no batch iterator: a trainer shuffles an index permutation itself and reads rows of
 * {@link org.rfim4j.data.Dataset#features()} directly.
 */
package org.rfim4j.data;
