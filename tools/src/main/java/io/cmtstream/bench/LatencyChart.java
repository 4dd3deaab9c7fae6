package io.cmtstream.bench;

import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.style.Styler;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/** Plot of query latency against bank size (log x). */
final class LatencyChart {
    private LatencyChart() {}

    static void write(List<JobBench.LatencyResult> results, Path png) throws IOException {
        XYChart chart = new XYChartBuilder().width(800).height(450).title("Query latency against bank size")
                .xAxisTitle("memories in the bank").yAxisTitle("ms").build();
        chart.getStyler().setXAxisLogarithmic(true);
        chart.getStyler().setLegendPosition(Styler.LegendPosition.InsideNW);
        List<Double> x = results.stream().map(r -> (double) r.memories()).toList();
        chart.addSeries("p50 askedAt to answer", x, results.stream().map(JobBench.LatencyResult::p50).toList());
        chart.addSeries("p99 askedAt to answer", x, results.stream().map(JobBench.LatencyResult::p99).toList());
        chart.addSeries("p99 matching (slowest shard)", x,
                results.stream().map(JobBench.LatencyResult::matchP99).toList());
        BitmapEncoder.saveBitmap(chart, png.toString(), BitmapEncoder.BitmapFormat.PNG);
    }
}
