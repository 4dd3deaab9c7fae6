package io.cmtstream.eval;

import io.cmtstream.squad.SquadScorer;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.Histogram;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.style.Styler;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;

/**
 * The streaming evaluation's output: report.md, retention.png (F1 per article right after it streamed in and
 * after all articles) and latency.png (histogram of answer latency).
 */
public record StreamingReport(EvaluationReport report, List<ArticleRetention> retention, List<Double> latencies) {

    /** Scores of one article's questions, asked right after it streamed in and again at the end. */
    public record ArticleRetention(String title, SquadScorer.Score now, SquadScorer.Score atEnd) {}

    public void write(Path dir) throws IOException {
        Files.createDirectories(dir);
        report.note("![retention](retention.png)\n\n![latency](latency.png)");
        Files.writeString(dir.resolve("report.md"), report.toMarkdown(), StandardCharsets.UTF_8);
        BitmapEncoder.saveBitmap(retentionChart(), dir.resolve("retention.png").toString(),
                BitmapEncoder.BitmapFormat.PNG);
        BitmapEncoder.saveBitmap(latencyChart(), dir.resolve("latency.png").toString(),
                BitmapEncoder.BitmapFormat.PNG);
    }

    XYChart retentionChart() {
        XYChart chart = new XYChartBuilder().width(800).height(450)
                .title("Knowledge retention: F1 per article").xAxisTitle("article, in streaming order")
                .yAxisTitle("F1").build();
        chart.getStyler().setLegendPosition(Styler.LegendPosition.InsideSE);
        chart.getStyler().setYAxisMin(0.0);
        List<Integer> x = IntStream.rangeClosed(1, retention.size()).boxed().toList();
        chart.addSeries("right after the article streamed in", x,
                retention.stream().map(r -> r.now().f1()).toList());
        chart.addSeries("after all articles streamed in", x,
                retention.stream().map(r -> r.atEnd().f1()).toList());
        return chart;
    }

    CategoryChart latencyChart() {
        CategoryChart chart = new CategoryChartBuilder().width(800).height(450)
                .title("Answer latency (askedAt to answer produced)").xAxisTitle("ms").yAxisTitle("answers").build();
        chart.getStyler().setLegendVisible(false);
        chart.getStyler().setXAxisDecimalPattern("#");
        chart.getStyler().setXAxisLabelRotation(45);
        List<Double> values = latencies.isEmpty() ? List.of(0.0) : new ArrayList<>(latencies);
        double max = values.stream().mapToDouble(Double::doubleValue).max().orElse(1);
        Histogram histogram = new Histogram(values, 20, 0, Math.max(1, max));
        chart.addSeries("latency", histogram.getxAxisData(), histogram.getyAxisData());
        return chart;
    }
}
