using ControlPlane.Scheduling.Autoscaling;

namespace ControlPlane.Scheduling.Tests.Autoscaling;

public class LatencyWindowTests
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 8, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Report_HoldsTheLastMinutesFinishedRequests_AndCountsOnlyTheFiguresTheyHave()
    {
        var window = new LatencyWindow(TimeSpan.FromSeconds(60));
        window.Add(T0, 5_000, 300);                     // out of the window by the time of the report
        window.Add(T0.AddSeconds(30), 100, double.NaN); // one token only: no TPOT
        window.Add(T0.AddSeconds(50), 200, 20);

        var report = window.Report(T0.AddSeconds(61))!;
        Assert.Equal(2, report.TimeToFirstToken.Count);
        Assert.Equal(1, report.TimePerOutputToken.Count);
        Assert.InRange(report.TimeToFirstToken.Percentile(1)!.Value, 180, 220);
        Assert.Null(window.Report(T0.AddSeconds(200)));
    }

    [Fact]
    public void P90_NeedsTwentyRequests()
    {
        var window = new LatencyWindow(TimeSpan.FromSeconds(60));
        for (var i = 0; i < AutoscalePlanner.MinLatencySamples - 1; i++)
            window.Add(T0, 1000, 50);
        Assert.Null(AutoscalePlanner.P90(window.Report(T0)!.TimeToFirstToken));
        window.Add(T0, 1000, 50);
        Assert.InRange(AutoscalePlanner.P90(window.Report(T0)!.TimeToFirstToken)!.Value, 900, 1100);
    }
}
