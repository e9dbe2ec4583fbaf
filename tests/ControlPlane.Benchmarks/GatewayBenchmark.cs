using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using ControlPlane.Server.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

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
        var app = ControlPlaneHost.Build([], c => c.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Urls"] = "http://127.0.0.1:0",
            ["Logging:LogLevel:Default"] = "Warning",
            ["Logging:LogLevel:Orleans"] = "Error",
            ["ControlPlane:Cluster:SiloPort"] = "22222",
            ["ControlPlane:Cluster:GatewayPort"] = "0",
            ["ControlPlane:Models:0:Name"] = "bench",
            ["ControlPlane:Models:0:Instances"] = instances.ToString(CultureInfo.InvariantCulture),
        }));
        await app.StartAsync();
        var address = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        using var http = new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5), MaxConnectionsPerServer = 4096 }) { BaseAddress = address };
        for (var i = 0; i < 100 && !(await http.GetAsync(new Uri("/readyz", UriKind.Relative))).IsSuccessStatusCode; i++)
            await Task.Delay(50);

        // ~60 prompt tokens, 8 output tokens: about 50 ms of simulated H100 time per request.
        var body = """{"model":"bench","max_tokens":8,"messages":[{"role":"user","content":"Summarize the plot of a short story about a lantern, a river and a stone bridge in three sentences, please, for a reader who has not read it yet."}]}""";
        await FireAsync(http, body, rate: rate / 2, seconds: 4); // warm-up: JIT, connections, grain activations
        var results = await FireAsync(http, body, rate, seconds);
        await app.StopAsync();
        await app.DisposeAsync();

        var ok = results.Where(r => r.Status == HttpStatusCode.OK).ToList();
        var added = ok.Select(r => r.EndToEndMs - r.EngineMs).ToList();
        var engine = ok.Select(r => r.EngineMs).ToList();
        var e2e = ok.Select(r => r.EndToEndMs).ToList();
        var lag = results.Select(r => r.SendLagMs).ToList();
        var span = results.Max(r => r.StartedAtMs + r.EndToEndMs) - results.Min(r => r.StartedAtMs);
        Console.WriteLine($"## Gateway, {instances} simulated instances, open loop at {rate:N0} requests/s for {seconds} s (non-streaming, 8 output tokens)");
        Console.WriteLine();
        Console.WriteLine($"- sent {results.Count:N0}, succeeded {ok.Count:N0}, failed {results.Count - ok.Count:N0} ({string.Join(", ", results.GroupBy(r => r.Status).Select(g => $"{(int)g.Key}: {g.Count()}"))})");
        Console.WriteLine($"- completed throughput: {ok.Count / (span / 1000):N0} requests/s");
        Console.WriteLine($"- added by the control plane (end-to-end − engine): {Percentiles.Summary(added, "ms")}");
        Console.WriteLine($"- engine time (simulated H100 steps):               {Percentiles.Summary(engine, "ms")}");
        Console.WriteLine($"- end-to-end at the client:                         {Percentiles.Summary(e2e, "ms")}");
        Console.WriteLine($"- send lag of the load generator:                   {Percentiles.Summary(lag, "ms")}");
        added.Sort();
        engine.Sort();
        Console.WriteLine($"- ratio added / engine at p50: {Percentiles.Of(added, 50) / Percentiles.Of(engine, 50):P2}");
        Console.WriteLine();
    }

    private sealed record Result(HttpStatusCode Status, double StartedAtMs, double SendLagMs, double EndToEndMs, double EngineMs);

    private static async Task<List<Result>> FireAsync(HttpClient http, string body, double rate, double seconds)
    {
        var count = (int)(rate * seconds);
        var results = new ConcurrentBag<Result>();
        var tasks = new List<Task>(count);
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < count; i++)
        {
            var due = i * 1000.0 / rate;
            var wait = due - clock.Elapsed.TotalMilliseconds;
            if (wait > 1.5)
                await Task.Delay(TimeSpan.FromMilliseconds(wait - 1));
            while (clock.Elapsed.TotalMilliseconds < due)
                Thread.SpinWait(20);
            tasks.Add(SendAsync(http, body, clock, due, results));
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
        var engine = response.Headers.TryGetValues("Server-Timing", out var timing)
            ? double.Parse(timing.First().Split("dur=")[1], CultureInfo.InvariantCulture)
            : double.NaN;
        results.Add(new Result(response.StatusCode, started, started - due, ended - started, engine));
    }
}
