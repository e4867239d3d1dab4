package org.rfim4j.cli;

import java.awt.BasicStroke;
import java.awt.Color;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.markers.SeriesMarkers;
import org.rfim4j.train.EpochResult;

/**
 * Figure-2-style plot: error (%) against epoch, training dashed and validation solid, one colour per
 * optimizer, each line the mean over seeds.
 */
public final class CurvePlot {
  private static final Color[] COLOURS = {new Color(0x1f77b4), new Color(0xd62728), new Color(0x2ca02c),
      new Color(0x9467bd), new Color(0xff7f0e), new Color(0x8c564b)};

  private CurvePlot() {}

  /**
   * Two panels side by side in one PNG, training error and validation error against epoch, each optimizer
   * a mean line with error bars of one standard deviation over seeds (the paper's Figure 2 layout).
   */
  public static void writeBands(Path png, String title, Map<String, List<List<EpochResult>>> curves) {
    System.setProperty("java.awt.headless", "true");
    XYChart train = panel("training error (%)", curves, true);
    XYChart val = panel("validation error (%)", curves, false);
    train.setTitle(title);
    val.setTitle(" ");
    java.awt.image.BufferedImage img = new java.awt.image.BufferedImage(1400, 560,
        java.awt.image.BufferedImage.TYPE_INT_RGB);
    java.awt.Graphics2D g = img.createGraphics();
    train.paint(g, 700, 560);
    g.translate(700, 0);
    val.paint(g, 700, 560);
    g.dispose();
    try {
      java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
      javax.imageio.ImageIO.write(img, "png", bytes);
      org.rfim4j.io.AtomicFiles.write(png, bytes.toByteArray()); // honours the umask, unlike createTempFile
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + png + ": " + org.rfim4j.io.AtomicFiles.describe(e), e);
    }
  }

  private static XYChart panel(String yTitle, Map<String, List<List<EpochResult>>> curves, boolean training) {
    XYChart chart = new XYChartBuilder().width(700).height(560).xAxisTitle("epoch").yAxisTitle(yTitle).build();
    chart.getStyler().setLegendPosition(org.knowm.xchart.style.Styler.LegendPosition.InsideNE);
    chart.getStyler().setErrorBarsColorSeriesColor(true);
    int c = 0;
    for (Map.Entry<String, List<List<EpochResult>>> e : curves.entrySet()) {
      Color colour = COLOURS[c++ % COLOURS.length];
      List<List<EpochResult>> runs = e.getValue();
      int epochs = runs.stream().mapToInt(List::size).min().orElse(0);
      if (runs.isEmpty() || epochs == 0) {
        continue;
      }
      double[] x = new double[epochs];
      double[] mean = new double[epochs];
      double[] sd = new double[epochs];
      for (int ep = 0; ep < epochs; ep++) {
        List<Double> v = new ArrayList<>();
        for (List<EpochResult> r : runs) {
          v.add(100 * (training ? r.get(ep).trainError() : r.get(ep).valError()));
        }
        x[ep] = ep + 1;
        mean[ep] = Summary.mean(v);
        sd[ep] = Summary.std(v);
      }
      XYSeries s = chart.addSeries(e.getKey(), x, mean, sd);
      s.setLineColor(colour);
      s.setMarkerColor(colour);
      s.setMarker(SeriesMarkers.CIRCLE);
    }
    return chart;
  }

  /**
   * Validation error against cumulative training seconds: for each optimizer, the mean over seeds of the
   * validation error at each epoch, placed at the mean over seeds of the training seconds up to that epoch
   * (what an optimizer's faster progress per epoch costs in time).
   */
  public static void writeVsSeconds(Path png, String title, Map<String, List<List<EpochResult>>> curves) {
    System.setProperty("java.awt.headless", "true");
    XYChart chart = new XYChartBuilder().width(900).height(600).title(title).xAxisTitle("training seconds")
        .yAxisTitle("validation error (%)").build();
    chart.getStyler().setLegendPosition(org.knowm.xchart.style.Styler.LegendPosition.InsideNE);
    chart.getStyler().setXAxisLogarithmic(true);
    int c = 0;
    for (Map.Entry<String, List<List<EpochResult>>> e : curves.entrySet()) {
      Color colour = COLOURS[c++ % COLOURS.length];
      List<List<EpochResult>> runs = e.getValue();
      int epochs = runs.stream().mapToInt(List::size).min().orElse(0);
      if (runs.isEmpty() || epochs == 0) {
        continue;
      }
      double[] x = new double[epochs];
      double[] y = new double[epochs];
      for (int ep = 0; ep < epochs; ep++) {
        for (List<EpochResult> r : runs) {
          x[ep] += r.get(ep).seconds() / runs.size();
          y[ep] += 100 * r.get(ep).valError() / runs.size();
        }
      }
      XYSeries s = chart.addSeries(e.getKey(), x, y);
      s.setLineColor(colour);
      s.setMarkerColor(colour);
      s.setMarker(SeriesMarkers.CIRCLE);
    }
    try {
      org.rfim4j.io.AtomicFiles.write(png, BitmapEncoder.getBitmapBytes(chart, BitmapEncoder.BitmapFormat.PNG));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + png + ": " + org.rfim4j.io.AtomicFiles.describe(e), e);
    }
  }

  /** Writes a PNG atomically. */
  public static void write(Path png, String title, Map<String, List<List<EpochResult>>> curves) {
    System.setProperty("java.awt.headless", "true");
    XYChart chart = new XYChartBuilder().width(900).height(600).title(title).xAxisTitle("epoch")
        .yAxisTitle("error (%)").build();
    chart.getStyler().setLegendPosition(org.knowm.xchart.style.Styler.LegendPosition.InsideNE);
    int c = 0;
    for (Map.Entry<String, List<List<EpochResult>>> e : curves.entrySet()) {
      Color colour = COLOURS[c++ % COLOURS.length];
      List<List<EpochResult>> runs = e.getValue();
      if (runs.isEmpty()) {
        continue;
      }
      int epochs = runs.stream().mapToInt(List::size).min().orElse(0);
      if (epochs == 0) {
        continue;
      }
      List<Double> x = new ArrayList<>();
      List<Double> train = new ArrayList<>();
      List<Double> val = new ArrayList<>();
      for (int ep = 0; ep < epochs; ep++) {
        double t = 0;
        double v = 0;
        for (List<EpochResult> r : runs) {
          t += r.get(ep).trainError();
          v += r.get(ep).valError();
        }
        x.add((double) (ep + 1));
        train.add(100 * t / runs.size());
        val.add(100 * v / runs.size());
      }
      XYSeries sv = chart.addSeries(e.getKey() + " validation", x, val);
      sv.setLineColor(colour);
      sv.setMarker(SeriesMarkers.NONE);
      XYSeries st = chart.addSeries(e.getKey() + " train", x, train);
      st.setLineColor(colour);
      st.setMarker(SeriesMarkers.NONE);
      st.setLineStyle(new BasicStroke(2f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_ROUND, 10f, new float[] {6f, 4f}, 0f));
    }
    try {
      org.rfim4j.io.AtomicFiles.write(png, BitmapEncoder.getBitmapBytes(chart, BitmapEncoder.BitmapFormat.PNG));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + png + ": " + org.rfim4j.io.AtomicFiles.describe(e), e);
    }
  }
}
