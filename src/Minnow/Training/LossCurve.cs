using System.Globalization;
using System.Text;

namespace Minnow.Training;

/// <summary>A training run's loss curve as a self-contained SVG: the training loss of every step and the validation losses.</summary>
public static class LossCurve
{
    /// <summary>Most points drawn for the training curve (longer runs are averaged into this many buckets).</summary>
    private const int MaxPoints = 1000;

    public static string Svg(IReadOnlyList<float> losses, IReadOnlyList<(int Step, float Loss)> validation, int totalSteps, string title)
    {
        const int width = 800, height = 450, left = 60, right = 20, top = 40, bottom = 50;
        var all = losses.Where(float.IsFinite).Concat(validation.Select(v => v.Loss).Where(float.IsFinite)).ToList();
        double max = all.Count > 0 ? all.Max() : 1, min = all.Count > 0 ? all.Min() : 0;
        if (max - min < 1e-6) { max += 0.5; min -= 0.5; }
        min = Math.Max(0, min - 0.05 * (max - min));
        int steps = Math.Max(totalSteps, Math.Max(losses.Count, 1));
        double X(double step) => left + (width - left - right) * step / steps;
        double Y(double loss) => top + (height - top - bottom) * (1 - (loss - min) / (max - min));
        string F(double v) => v.ToString("0.##", CultureInfo.InvariantCulture);

        var svg = new StringBuilder();
        svg.Append($"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" font-size=\"12\">\n");
        svg.Append($"<rect width=\"{width}\" height=\"{height}\" fill=\"white\"/>\n");
        svg.Append($"<text x=\"{width / 2}\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">{System.Security.SecurityElement.Escape(title)}</text>\n");
        for (int i = 0; i <= 5; i++)
        {
            double loss = min + (max - min) * i / 5;
            svg.Append($"<line x1=\"{left}\" x2=\"{width - right}\" y1=\"{F(Y(loss))}\" y2=\"{F(Y(loss))}\" stroke=\"#ddd\"/>");
            svg.Append($"<text x=\"{left - 6}\" y=\"{F(Y(loss) + 4)}\" text-anchor=\"end\">{loss.ToString("0.00", CultureInfo.InvariantCulture)}</text>\n");
            double step = steps * i / 5.0;
            svg.Append($"<text x=\"{F(X(step))}\" y=\"{height - bottom + 18}\" text-anchor=\"middle\">{(int)step}</text>\n");
        }
        svg.Append($"<text x=\"{width / 2}\" y=\"{height - 10}\" text-anchor=\"middle\">step</text>\n");
        svg.Append($"<text x=\"16\" y=\"{height / 2}\" text-anchor=\"middle\" transform=\"rotate(-90 16 {height / 2})\">loss (nats/token)</text>\n");
        if (losses.Count > 0)
        {
            int bucket = Math.Max(1, (losses.Count + MaxPoints - 1) / MaxPoints);
            var points = new StringBuilder();
            for (int start = 0; start < losses.Count; start += bucket)
            {
                int end = Math.Min(losses.Count, start + bucket);
                double mean = 0;
                for (int i = start; i < end; i++) mean += losses[i];
                mean /= end - start;
                points.Append($"{F(X((start + end) / 2.0))},{F(Y(mean))} ");
            }
            svg.Append($"<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.5\" points=\"{points}\"/>\n");
        }
        if (validation.Count > 0)
        {
            svg.Append($"<polyline fill=\"none\" stroke=\"#d62728\" stroke-width=\"1.5\" points=\"{string.Join(" ", validation.Select(v => $"{F(X(v.Step))},{F(Y(v.Loss))}"))}\"/>\n");
            foreach (var (step, loss) in validation)
                svg.Append($"<circle cx=\"{F(X(step))}\" cy=\"{F(Y(loss))}\" r=\"3\" fill=\"#d62728\"><title>step {step}: validation loss {loss.ToString("0.0000", CultureInfo.InvariantCulture)}</title></circle>\n");
        }
        svg.Append($"<line x1=\"{width - 190}\" x2=\"{width - 170}\" y1=\"{top + 10}\" y2=\"{top + 10}\" stroke=\"#1f77b4\" stroke-width=\"2\"/><text x=\"{width - 165}\" y=\"{top + 14}\">training loss</text>\n");
        svg.Append($"<line x1=\"{width - 190}\" x2=\"{width - 170}\" y1=\"{top + 28}\" y2=\"{top + 28}\" stroke=\"#d62728\" stroke-width=\"2\"/><text x=\"{width - 165}\" y=\"{top + 32}\">validation loss</text>\n");
        svg.Append("</svg>\n");
        return svg.ToString();
    }
}
