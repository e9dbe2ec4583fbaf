using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text;

namespace ControlPlane.Benchmarks;

/// <summary>
/// The whole control plane in one process (gateway, grains, 64 simulated H100s) under an open-loop HTTP
/// load on loopback: requests leave on schedule whatever the server does. For each request the client's
/// end-to-end time is set beside the engine's own time (reported in <c>Server-Timing</c>): the difference
/// is what the control plane adds (HTTP, parsing, tokenizing, dispatch, grain calls, token routing).
/// </summary>
internal static class GatewayBenchmark
{
    public static async Task RunAsync(int instances = 64, double rate = 1000, double seconds = 10)
    {
        var (app, address) = await InProcessServer.StartAsync(22222, instances);
        using var http = new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5), MaxConnectionsPerServer = 4096 }) { BaseAddress = address };

        // ~60 prompt tokens, 8 output tokens: about 50 ms of simulated H100 time per request.
        var body = """{"model":"bench","max_tokens":8,"messages":[{"role":"user","content":"Summarize the plot of a short story about a lantern, a river and a stone bridge in three sentences, please, for a reader who has not read it yet."}]}""";
        await FireAsync(http, body, rate: rate / 2, seconds: 4); // warm-up: JIT, connections, grain activations
        var gcBefore = (Gen0: GC.CollectionCount(0), Gen1: GC.CollectionCount(1), Gen2: GC.CollectionCount(2), Pause: GC.GetTotalPauseDuration(), Cpu: Environment.CpuUsage.TotalTime);
        var results = await FireAsync(http, body, rate, seconds);
        var gc = $"gen0 {GC.CollectionCount(0) - gcBefore.Gen0}, gen1 {GC.CollectionCount(1) - gcBefore.Gen1}, gen2 {GC.CollectionCount(2) - gcBefore.Gen2}, paused {(GC.GetTotalPauseDuration() - gcBefore.Pause).TotalMilliseconds:F0} ms";
        var cpu = (Environment.CpuUsage.TotalTime - gcBefore.Cpu).TotalSeconds;
        await app.StopAsync();
        await app.DisposeAsync();

        var ok = results.Where(r => r.Status == HttpStatusCode.OK).ToList();
        var added = ok.Select(r => r.EndToEndMs - r.EngineMs).ToList();
        var addedInServer = ok.Select(r => r.GatewayMs - r.EngineMs).ToList();
        var engine = ok.Select(r => r.EngineMs).ToList();
        var e2e = ok.Select(r => r.EndToEndMs).ToList();
        var lag = results.Select(r => r.SendLagMs).ToList();
        var span = results.Max(r => r.StartedAtMs + r.EndToEndMs) - results.Min(r => r.StartedAtMs);
        Console.WriteLine($"## Gateway, {instances} simulated instances, open loop at {rate:N0} requests/s for {seconds} s (non-streaming, 8 output tokens)");
        Console.WriteLine();
        Console.WriteLine($"- sent {results.Count:N0}, succeeded {ok.Count:N0}, failed {results.Count - ok.Count:N0} ({string.Join(", ", results.GroupBy(r => r.Status).Select(g => $"{(int)g.Key}: {g.Count()}"))})");
        Console.WriteLine($"- completed throughput: {ok.Count / (span / 1000):N0} requests/s");
        Console.WriteLine($"- added inside the server (gateway − engine):       {Percentiles.Summary(addedInServer, "ms")}");
        Console.WriteLine($"- added as the client sees it (end-to-end − engine): {Percentiles.Summary(added, "ms")}");
        Console.WriteLine($"- engine time (simulated H100 steps):               {Percentiles.Summary(engine, "ms")}");
        Console.WriteLine($"- end-to-end at the client:                         {Percentiles.Summary(e2e, "ms")}");
        Console.WriteLine($"- send lag of the load generator:                   {Percentiles.Summary(lag, "ms")}");
        added.Sort();
        engine.Sort();
        Console.WriteLine($"- process CPU (server and load generator together): {cpu:F1} s over the run, {cpu * 1000 / results.Count:F2} ms per request; GC: {gc}");
        Console.WriteLine($"- ratio added / engine at p50: {Percentiles.Of(added, 50) / Percentiles.Of(engine, 50):P2}");
        Console.WriteLine();
    }

    private sealed record Result(HttpStatusCode Status, double StartedAtMs, double SendLagMs, double EndToEndMs, double EngineMs, double GatewayMs);

    private static async Task<List<Result>> FireAsync(HttpClient http, string body, double rate, double seconds)
    {
        var count = (int)(rate * seconds);
        var results = new ConcurrentBag<Result>();
        var tasks = new List<Task>(count);
        var clock = Stopwatch.StartNew();
        var next = 0;
        while (next < count)
        {
            // Send everything that is due, then sleep about a millisecond: no core is burnt spinning, and
            // the lag this costs is measured and reported as send lag.
            var now = clock.Elapsed.TotalMilliseconds;
            for (; next < count && next * 1000.0 / rate <= now; next++)
                tasks.Add(SendAsync(http, body, clock, next * 1000.0 / rate, results));
            await Task.Delay(1);
        }
        await Task.WhenAll(tasks);
        return [.. results];
    }

    private static async Task SendAsync(HttpClient http, string body, Stopwatch clock, double due, ConcurrentBag<Result> results)
    {
        var started = clock.Elapsed.TotalMilliseconds;
        using var response = await http.PostAsync(new Uri("/v1/chat/completions", UriKind.Relative), new StringContent(body, Encoding.UTF8, "application/json"));
        await response.Content.ReadAsByteArrayAsync();
        var ended = clock.Elapsed.TotalMilliseconds;
        var (engine, gateway) = ServerTiming.Of(response);
        results.Add(new Result(response.StatusCode, started, started - due, ended - started, engine, gateway));
    }
}
