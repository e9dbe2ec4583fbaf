using System.Text.Json;
using ControlPlane.LoadGen.Reports;

namespace ControlPlane.LoadGen.Tests.Reports;

public class ReportJsonTests
{
    [Fact]
    public void Write_AFigureWithNoValue_IsNull_AndReadsBackAsNaN()
    {
        var stats = new LatencyStats(0, double.NaN, double.NaN, double.PositiveInfinity, 1.5, 2);
        var json = JsonSerializer.Serialize(stats, ReportJson.Compact);

        Assert.Equal("""{"Count":0,"Mean":null,"P50":null,"P90":null,"P99":1.5,"Max":2}""", json);
        var back = JsonSerializer.Deserialize<LatencyStats>(json, ReportJson.Compact)!;
        Assert.True(double.IsNaN(back.Mean) && double.IsNaN(back.P90));
        Assert.Equal(1.5, back.P99);
    }

    [Fact]
    public void Read_AnOlderReportsNamedLiterals_StillReads()
    {
        var back = JsonSerializer.Deserialize<LatencyStats>("""{"Count":0,"Mean":"NaN","P50":"Infinity","P90":3,"P99":4,"Max":5}""", ReportJson.Compact)!;
        Assert.True(double.IsNaN(back.Mean));
        Assert.True(double.IsPositiveInfinity(back.P50));
    }

    [Fact]
    public void Read_AWordForANumber_SaysSo() =>
        Assert.Throws<JsonException>(() => JsonSerializer.Deserialize<LatencyStats>("""{"Count":0,"Mean":"fast","P50":1,"P90":3,"P99":4,"Max":5}""", ReportJson.Compact));
}
