using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using ControlPlane.LoadGen.Reports;

namespace ControlPlane.LoadGen;

/// <summary>The <c>compare</c> command: two reports (a real run and a simulated one, say) line by line, with relative differences.</summary>
public static class CompareCommand
{
    public static Command Create()
    {
        var first = new Argument<string>("baseline") { Description = "report.json of the baseline (e.g. the real run)" };
        var second = new Argument<string>("other") { Description = "report.json to compare (e.g. the simulated run)" };
        var tolerance = new Option<double>("--tolerance") { Description = "Largest relative difference that passes", DefaultValueFactory = _ => 0.10 };
        var command = new Command("compare", "Compare two reports' latencies line by line") { first, second, tolerance };
        command.SetAction(parse =>
        {
            var a = Load(parse.GetValue(first)!);
            var b = Load(parse.GetValue(second)!);
            var limit = parse.GetValue(tolerance);
            var rows = new (string Name, double A, double B)[]
            {
                ("p50 time to first token (ms)", a.TimeToFirstTokenMs.P50, b.TimeToFirstTokenMs.P50),
                ("p99 time to first token (ms)", a.TimeToFirstTokenMs.P99, b.TimeToFirstTokenMs.P99),
                ("p50 time per output token (ms)", a.TimePerOutputTokenMs.P50, b.TimePerOutputTokenMs.P50),
                ("p99 time per output token (ms)", a.TimePerOutputTokenMs.P99, b.TimePerOutputTokenMs.P99),
                ("p50 end to end (ms)", a.EndToEndMs.P50, b.EndToEndMs.P50),
                ("p99 end to end (ms)", a.EndToEndMs.P99, b.EndToEndMs.P99),
            };
            Console.WriteLine($"| figure | {a.Endpoint} | {b.Endpoint} | difference |");
            Console.WriteLine("|---|---|---|---|");
            var worst = 0.0;
            foreach (var (name, x, y) in rows)
            {
                var diff = (y - x) / x;
                if (!name.Contains("end to end", StringComparison.Ordinal))
                    worst = Math.Max(worst, Math.Abs(diff));
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {name} | {x:0.0} | {y:0.0} | {diff:+0.0%;-0.0%} |"));
            }
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"\nLargest TTFT/TPOT difference: {worst:0.0%} (tolerance {limit:0%}): {(worst <= limit ? "within" : "OUTSIDE")}"));
            return worst <= limit ? 0 : 1;
        });
        return command;
    }

    private static ReplayReport Load(string path) =>
        JsonSerializer.Deserialize<ReplayReport>(File.ReadAllText(path), ReportJson.Compact)
        ?? throw new InvalidDataException($"'{path}' is not a report");
}
