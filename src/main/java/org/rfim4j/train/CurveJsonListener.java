package org.rfim4j.train;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.rfim4j.io.AtomicFiles;

/** Writes the run description and learning curve as JSON ({@code curve.json}), atomically per epoch. */
public final class CurveJsonListener implements TrainingListener {
  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
  private final Path file;
  private final List<EpochResult> rows = new ArrayList<>();
  private TrainingInfo info;
  private String stopped;

  public CurveJsonListener(Path file) {
    this.file = file;
  }

  /** Rows of an earlier part of the run (on resume), kept at the top of the curve. */
  public void preload(List<EpochResult> earlier) {
    rows.addAll(earlier);
  }

  @Override
  public void onStart(TrainingInfo info) {
    this.info = info;
    write();
  }

  @Override
  public void onEpochEnd(EpochResult r) {
    rows.add(r);
    write();
  }

  @Override
  public void onStop(String reason) {
    stopped = reason;
    write();
  }

  private void write() {
    Map<String, Object> doc = new LinkedHashMap<>();
    doc.put("run", info);
    doc.put("curve", rows);
    if (stopped != null) {
      doc.put("stopped", stopped);
    }
    try {
      AtomicFiles.writeString(file, JSON.writeValueAsString(doc));
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot serialise learning curve: " + e.getMessage(), e);
    }
  }
}
