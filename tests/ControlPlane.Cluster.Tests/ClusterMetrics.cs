using System.Globalization;
using System.Text.RegularExpressions;

namespace ControlPlane.Cluster.Tests;

/// <summary>Reads figures from a process's Prometheus text on <c>/metrics</c>.</summary>
internal static partial class ClusterMetrics
{
    /// <summary>The sum of every sample of <paramref name="name"/> whose labels contain <paramref name="labelPart"/>.</summary>
    public static async Task<double> SumAsync(Uri process, string name, string labelPart = "")
    {
        using var http = new HttpClient { BaseAddress = process, Timeout = TimeSpan.FromSeconds(5) };
        var text = await http.GetStringAsync(new Uri("metrics", UriKind.Relative));
        return Sum(text, name, labelPart);
    }

    public static double Sum(string text, string name, string labelPart = "")
    {
        var total = 0.0;
        foreach (Match m in Sample().Matches(text))
        {
            if (m.Groups["name"].Value == name && m.Groups["labels"].Value.Contains(labelPart, StringComparison.Ordinal))
                total += double.Parse(m.Groups["value"].Value, CultureInfo.InvariantCulture);
        }
        return total;
    }

    [GeneratedRegex(@"^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?<labels>[^}]*)\})? (?<value>[-+0-9.eE]+|NaN)", RegexOptions.Multiline)]
    private static partial Regex Sample();
}
