using ControlPlane.Testing.Cluster;
using Xunit.Abstractions;

namespace ControlPlane.Cluster.Tests.Faults;

/// <summary>
/// A worker process dies (SIGKILL) or is stopped (SIGTERM) while 120 streams run across two workers: every
/// stream completes with exactly the text of a run without the fault.
/// </summary>
public class WorkerFaultTests(ITestOutputHelper output)
{
    private const int Requests = 120;
    private const int MaxTokens = 150;

    [Fact]
    public async Task KillWorker_WithStreamsInFlight_EveryStreamResumesElsewhereWithTheSameTokens()
    {
        await using var cluster = await LocalCluster.StartAsync();
        var (baseline, run, streams) = await StreamMidwayAsync(cluster);
        var onKilled = await RunningOnAsync(cluster, "worker-1");
        var killedAt = run.Clock.Elapsed;
        await cluster.Workers[1].KillAsync();
        var results = await streams;

        WithLogsOnFailure(cluster, () => AssertSameAsBaseline(baseline, results));
        var resumed = await ClusterMetrics.SumAsync(cluster.Control.BaseAddress, "controlplane_request_resumes_total", "outcome=\"resumed\"");
        // A resumed stream waits out failure detection (seconds); the others never wait more than a few steps.
        var gaps = results.Select(r => r.LongestGap()).Where(g => g.Gap > TimeSpan.FromMilliseconds(800)).ToArray();
        var toFirstToken = gaps.Select(g => (g.Resumed - killedAt).TotalMilliseconds).ToArray();
        output.WriteLine($"resumed {resumed} of {Requests}; death to resumed first token p50 {Percentile(toFirstToken, 0.5):0} ms, p99 {Percentile(toFirstToken, 0.99):0} ms");
        Assert.True(onKilled >= 1, "the killed worker ran no request, so the test proved nothing");
        Assert.Equal(onKilled, resumed);
        Assert.Equal(onKilled, gaps.Length);
    }

    [Fact]
    public async Task TerminateWorker_WithStreamsInFlight_DrainsThemAndResumesNone()
    {
        await using var cluster = await LocalCluster.StartAsync();
        var (baseline, _, streams) = await StreamMidwayAsync(cluster);
        var running = await RunningOnAsync(cluster, "worker-1");
        cluster.Workers[1].Terminate();
        var results = await streams;
        var exit = await cluster.Workers[1].WaitForExitAsync(TimeSpan.FromSeconds(60));

        WithLogsOnFailure(cluster, () => AssertSameAsBaseline(baseline, results));
        Assert.True(running >= 1, "the stopped worker ran no request, so the test proved nothing");
        Assert.Equal(0, exit);
        // The gateway learns of the departure only after the worker left; give that a moment before reading.
        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.Equal(0, await ClusterMetrics.SumAsync(cluster.Control.BaseAddress, "controlplane_request_resumes_total"));
    }

    /// <summary>
    /// A baseline run of the streams to completion, then the same streams again, returned once every one of them
    /// is mid-stream: the moment to inject a fault.
    /// </summary>
    private static async Task<(StreamResult[] Baseline, StreamRun Run, Task<StreamResult[]> Streams)> StreamMidwayAsync(LocalCluster cluster)
    {
        var baseline = await new StreamRun(cluster.Control.BaseAddress, Requests, MaxTokens).RunAsync();
        AssertAllFinished(baseline, "baseline");
        await cluster.WaitForIdleAsync(TimeSpan.FromSeconds(10));
        var run = new StreamRun(cluster.Control.BaseAddress, Requests, MaxTokens);
        var streams = run.RunAsync();
        Assert.True(await WaitAsync(run.AllStreaming, TimeSpan.FromSeconds(60)), "not every request was streaming within 60 s");
        return (baseline, run, streams);
    }

    /// <summary>Requests running on a pod's instances, as the scheduler's view (one report period old) says.</summary>
    internal static async Task<int> RunningOnAsync(LocalCluster cluster, string pod)
    {
        using var http = new HttpClient { BaseAddress = cluster.Control.BaseAddress };
        using var json = System.Text.Json.JsonDocument.Parse(await http.GetStringAsync(new Uri($"admin/models/{LocalCluster.Model}/instances", UriKind.Relative)));
        return json.RootElement.GetProperty("data").EnumerateArray()
            .Where(i => i.GetProperty("pod").GetString() == pod)
            .Sum(i => i.GetProperty("running").GetInt32() + i.GetProperty("waiting").GetInt32());
    }

    internal static void AssertAllFinished(StreamResult[] results, string run)
    {
        var failed = results.Where(r => r.Error is not null || r.Finish is null).ToArray();
        Assert.True(failed.Length == 0, $"{failed.Length} request(s) of the {run} did not finish; first: #{failed.FirstOrDefault()?.Index} {failed.FirstOrDefault()?.Error}");
    }

    private static void AssertSameAsBaseline(StreamResult[] baseline, StreamResult[] results)
    {
        AssertAllFinished(results, "run with the fault");
        for (var i = 0; i < results.Length; i++)
        {
            Assert.True(baseline[i].Text == results[i].Text,
                $"request {i}: text differs from the run without the fault (lengths {baseline[i].Text.Length} and {results[i].Text.Length})\nexpected: {baseline[i].Text}\nactual:   {results[i].Text}");
            Assert.Equal(baseline[i].CompletionTokens, results[i].CompletionTokens);
            Assert.Equal(baseline[i].Finish, results[i].Finish);
        }
    }

    /// <summary>Runs the assertions; when one fails, the processes' last log lines go to the test's output (what CI keeps).</summary>
    private void WithLogsOnFailure(LocalCluster cluster, Action assertions)
    {
        try
        {
            assertions();
        }
        catch
        {
            foreach (var process in cluster.Workers.Prepend(cluster.Control))
                output.WriteLine($"---- {process.Name}, last lines:\n{process.RecentOutput}");
            throw;
        }
    }

    internal static async Task<bool> WaitAsync(Task task, TimeSpan timeout) => await Task.WhenAny(task, Task.Delay(timeout)) == task;

    private static double Percentile(double[] values, double q)
    {
        if (values.Length == 0)
            return double.NaN;
        var sorted = values.Order().ToArray();
        return sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(q * sorted.Length) - 1)];
    }
}
