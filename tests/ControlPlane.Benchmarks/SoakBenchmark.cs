using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;

namespace ControlPlane.Benchmarks;

/// <summary>
/// The soak (issue 17): the control plane as `make run` starts it (its shipped settings: four simulated H100
/// instances), in its own process, under a steady 500 concurrent streams for ten minutes, one third of them leaving
/// early, after a warm-up of eight (long enough for everything bounded by time or count to fill: request grains are
/// collected two minutes after their end, the embedded request-state store holds 20,000, the status page keeps five
/// minutes of requests; with three minutes the server's RSS still grew for six more, then held flat). Reported: the server's
/// resident memory after warm-up and at the end, every in-flight and KV gauge once the load stops, and server errors
/// (5xx answers, error events in streams, error lines in the server's log).
/// </summary>
internal static partial class SoakBenchmark
{
    public static async Task RunAsync(double minutes = 10, int streams = 500, double warmupMinutes = 8)
    {
        var repo = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", ".."));
        var server = Path.Combine(repo, "src", "ControlPlane.Server", "bin", "Release", "net10.0", "ControlPlane.Server.dll");
        const int port = 18480;
        var log = Path.Combine(Path.GetTempPath(), "controlplane-soak-server.log");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Path.GetDirectoryName(server)! };
        foreach (var a in new[] { server, "--urls", $"http://127.0.0.1:{port}", "--ControlPlane:Cluster:SiloPort=21411", "--ControlPlane:Cluster:GatewayPort=0", "--Logging:LogLevel:Default=Warning" })
            start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var lines = new List<string>();
        process.OutputDataReceived += (_, e) => { if (e.Data is { } l) lock (lines) lines.Add(l); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is { } l) lock (lines) lines.Add(l); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = streams * 2, PooledConnectionLifetime = TimeSpan.FromMinutes(30) })
            { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromMinutes(5) };
            for (var i = 0; i < 300; i++)
            {
                try
                {
                    if ((await http.GetAsync(new Uri("/readyz", UriKind.Relative))).IsSuccessStatusCode)
                        break;
                }
                catch (HttpRequestException)
                {
                }
                await Task.Delay(100);
            }

            var stats = new Stats();
            using var stop = new CancellationTokenSource();
            var clock = Stopwatch.StartNew();
            var workers = Enumerable.Range(0, streams).Select(w => WorkerAsync(http, w, stats, stop.Token)).ToArray();
            await Task.Delay(TimeSpan.FromMinutes(warmupMinutes));
            var rssWarm = Rss(process.Id);
            var warmCounts = stats.Snapshot();
            var samples = new List<(double Minute, long Rss)> { (clock.Elapsed.TotalMinutes, rssWarm) };
            while (clock.Elapsed < TimeSpan.FromMinutes(warmupMinutes + minutes))
            {
                await Task.Delay(TimeSpan.FromSeconds(30));
                samples.Add((clock.Elapsed.TotalMinutes, Rss(process.Id)));
            }
            var rssEnd = Rss(process.Id);
            stop.Cancel();
            await Task.WhenAll(workers);
            var loadEnded = clock.Elapsed;

            // Every gauge back to zero once the last stream is gone.
            Dictionary<string, double> gauges = [];
            for (var i = 0; i < 300; i++)
            {
                gauges = Gauges(await http.GetStringAsync(new Uri("/metrics", UriKind.Relative)));
                if (gauges.Count > 0 && gauges.Values.All(v => v == 0))
                    break;
                await Task.Delay(100);
            }
            var settled = clock.Elapsed - loadEnded;
            var rssIdle = Rss(process.Id);
            string[] errorLines;
            lock (lines)
                errorLines = [.. lines.Where(l => l.StartsWith("fail:", StringComparison.Ordinal) || l.StartsWith("crit:", StringComparison.Ordinal))];

            var total = stats.Snapshot();
            var measured = total.Minus(warmCounts);
            Console.WriteLine($"## Soak: {streams} concurrent streams for {minutes:0.#} minutes after {warmupMinutes:0.#} of warm-up, a third leaving early (the `make run` server, its own process)");
            Console.WriteLine();
            Console.WriteLine($"- streams: {total.Started:N0} started, {total.Finished:N0} read to [DONE], {total.LeftEarly:N0} left early, {total.Refused:N0} refused (429/503), " +
                $"{total.ServerErrors:N0} server errors (5xx or error events), {total.ClientErrors:N0} other failures; {total.Tokens:N0} chunks read");
            Console.WriteLine($"- after warm-up: {measured.Started / minutes / 60:N1} streams started a second");
            Console.WriteLine($"- server RSS: {rssWarm / 1048576.0:N0} MiB after warm-up, {rssEnd / 1048576.0:N0} MiB at the end ({(double)rssEnd / rssWarm:P1} of warm-up; goal within 10%), " +
                $"{rssIdle / 1048576.0:N0} MiB idle after");
            Console.WriteLine($"- RSS every 30 s (MiB): {string.Join(", ", samples.Select(s => (s.Rss / 1048576.0).ToString("N0", CultureInfo.InvariantCulture)))}");
            Console.WriteLine($"- gauges {settled.TotalSeconds:N1} s after the load stopped: {string.Join(", ", gauges.Select(g => $"{g.Key} {g.Value}"))}");
            Console.WriteLine($"- server log: {errorLines.Length} error lines{(errorLines.Length > 0 ? ": " + string.Join(" | ", errorLines.Take(3)) : "")}");
            var pass = rssEnd <= rssWarm * 1.1 && gauges.Count > 0 && gauges.Values.All(v => v == 0) && total.ServerErrors == 0 && errorLines.Length == 0;
            Console.WriteLine($"- verdict: {(pass ? "passed" : "MISSED")} (RSS within 10%, gauges at zero, no server error)");
            Console.WriteLine();
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
            }
            lock (lines)
                File.WriteAllLines(log, lines);
        }
    }

    private static async Task WorkerAsync(HttpClient http, int worker, Stats stats, CancellationToken stop)
    {
        var random = new Random(worker);
        var words = "the of and to in is was for on that with as by at from his her an are it be this which or had not but were they".Split(' ');
        while (!stop.IsCancellationRequested)
        {
            // A third leave after a few chunks; the rest read to the end. Prompts of 30 to 300 words, 50 to 400 tokens out.
            var leaveAfter = random.Next(3) == 0 ? random.Next(1, 30) : int.MaxValue;
            var prompt = string.Join(' ', Enumerable.Range(0, random.Next(30, 300)).Select(_ => words[random.Next(words.Length)]));
            var body = $$"""{"model":"llama-3-8b-sim","stream":true,"max_tokens":{{random.Next(50, 400)}},"messages":[{"role":"user","content":"{{worker}} {{prompt}}"}]}""";
            Interlocked.Increment(ref stats.Started);
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
                using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, stop);
                if (response.StatusCode is HttpStatusCode.TooManyRequests or HttpStatusCode.ServiceUnavailable)
                {
                    Interlocked.Increment(ref stats.Refused);
                    await Task.Delay(TimeSpan.FromSeconds(1), stop);
                    continue;
                }
                if ((int)response.StatusCode >= 500)
                {
                    Interlocked.Increment(ref stats.ServerErrors);
                    continue;
                }
                using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(stop));
                var chunks = 0;
                var done = false;
                while (await reader.ReadLineAsync(stop) is { } line)
                {
                    if (!line.StartsWith("data: ", StringComparison.Ordinal))
                        continue;
                    if (line == "data: [DONE]")
                    {
                        done = true;
                        break;
                    }
                    if (line.Contains("\"error\"", StringComparison.Ordinal))
                        Interlocked.Increment(ref stats.ServerErrors);
                    Interlocked.Increment(ref stats.Tokens);
                    if (++chunks >= leaveAfter)
                        break; // the client goes away: the response is disposed mid-stream
                }
                if (done)
                    Interlocked.Increment(ref stats.Finished);
                else if (chunks >= leaveAfter)
                    Interlocked.Increment(ref stats.LeftEarly);
                else if (!stop.IsCancellationRequested)
                    Interlocked.Increment(ref stats.ClientErrors);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is HttpRequestException or IOException)
            {
                Interlocked.Increment(ref stats.ClientErrors);
            }
        }
    }

    private static long Rss(int pid)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
        }
        return 0;
    }

    /// <summary>The in-flight and KV gauges from the Prometheus text: requests in flight, queue depth, KV usage and running requests per instance.</summary>
    private static Dictionary<string, double> Gauges(string metrics)
    {
        var gauges = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (Match m in GaugeLine().Matches(metrics))
            gauges[m.Groups[1].Value + m.Groups[2].Value] = double.Parse(m.Groups[3].Value, CultureInfo.InvariantCulture);
        return gauges;
    }

    [GeneratedRegex(@"^(controlplane_(?:requests_in_flight|queue_depth|instance_kv_usage|instance_running_requests)[a-z_]*)(\{[^}]*\})? ([0-9.eE+-]+)", RegexOptions.Multiline)]
    private static partial Regex GaugeLine();

    private sealed class Stats
    {
        public long Started, Finished, LeftEarly, Refused, ServerErrors, ClientErrors, Tokens;

        public Stats Snapshot() => new()
        {
            Started = Interlocked.Read(ref Started), Finished = Interlocked.Read(ref Finished), LeftEarly = Interlocked.Read(ref LeftEarly),
            Refused = Interlocked.Read(ref Refused), ServerErrors = Interlocked.Read(ref ServerErrors), ClientErrors = Interlocked.Read(ref ClientErrors),
            Tokens = Interlocked.Read(ref Tokens),
        };

        public Stats Minus(Stats other) => new() { Started = Started - other.Started, Finished = Finished - other.Finished };
    }
}
