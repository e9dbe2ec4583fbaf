using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using ControlPlane.KvCache;
using ControlPlane.Scheduling.KvCache;
using ControlPlane.Simulation.Tokenization;

namespace ControlPlane.Benchmarks;

/// <summary>
/// The router's overhead on long prompts (llm-d's users report over a second for large ones): the whole control plane in
/// one process (gateway, grains, prefix index, 8 simulated H200s with the 128k profile), non-streaming requests of one
/// output token, one at a time. Added time = the server's own time less the engine's (<c>Server-Timing</c>): HTTP,
/// JSON, tokenizing, hashing the prompt's blocks, matching them against the index replica, dispatch, grain calls.
/// Prompts of 200 KB against prompts of 200 B, side by side; then the pieces that grow with the prompt, alone.
/// </summary>
internal static class LargePromptBenchmark
{
    public static async Task RunAsync(int requests = 20)
    {
        var (app, address) = await InProcessServer.StartAsync(22223, 8, new Dictionary<string, string?> { ["ControlPlane:Models:0:Profile"] = "llama-3.1-8b-h200-128k" });
        using var http = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromMinutes(2) };

        var random = new Random(7);
        await SendAsync(http, Prompt(random, 200_000)); // warm-up
        var small = new List<double>();
        var large = new List<double>();
        var largeTokens = 0;
        for (var i = 0; i < requests; i++)
        {
            small.Add((await SendAsync(http, Prompt(random, 200))).Added);
            var (added, tokens) = await SendAsync(http, Prompt(random, 200_000));
            large.Add(added);
            largeTokens = tokens;
        }
        await app.StopAsync();
        await app.DisposeAsync();

        Console.WriteLine($"## Router overhead on long prompts: 8 simulated H200s (128k profile), prefix-aware dispatch with the index replica, {requests} requests of each size, one at a time");
        Console.WriteLine();
        Console.WriteLine($"- 200 B prompts, added inside the server (gateway − engine):   {Percentiles.Summary(small, "ms")}");
        Console.WriteLine($"- 200 KB prompts ({largeTokens:N0} tokens), added inside the server: {Percentiles.Summary(large, "ms")}");
        Console.WriteLine($"- what 200 KB adds over 200 B at p50: {Percentiles.Of(large, 50) - Percentiles.Of(small, 50):F1} ms");
        Pieces(random, largeTokens);
        Console.WriteLine();
    }

    /// <summary>The steps that grow with the prompt, alone: tokenizing, naming its blocks, matching them against an index.</summary>
    private static void Pieces(Random random, int tokens)
    {
        var text = Prompt(random, 200_000);
        var ids = SimulatedTokenizer.Instance.Encode(text);
        var hasher = new KvBlockHasher("bench", 16);
        var hashes = hasher.HashAll(ids.ToArray());
        // An index as 64 instances would fill it: this prompt's first half held by one, 200,000 other blocks elsewhere.
        var index = new KvPrefixIndex();
        index.Apply("i0", hashes.Take(hashes.Length / 2).Select(h => new KvEvent(KvEventKind.Stored, h, 0)));
        for (var i = 1; i < 64; i++)
            index.Apply($"i{i}", Enumerable.Range(0, 3125).Select(b => new KvEvent(KvEventKind.Stored, (ulong)random.NextInt64(), 0)));
        double Time(Action action)
        {
            action();
            var watch = Stopwatch.StartNew();
            for (var i = 0; i < 20; i++)
                action();
            return watch.Elapsed.TotalMilliseconds / 20;
        }
        var tokenize = Time(() => SimulatedTokenizer.Instance.Encode(text));
        var hash = Time(() => hasher.HashAll(ids.ToArray()));
        var match = Time(() => index.Match(hashes));
        Console.WriteLine(FormattableString.Invariant(
            $"- alone, for one 200 KB prompt ({ids.Count:N0} tokens, {hashes.Length:N0} blocks): tokenize {tokenize:F2} ms (the simulated model's word tokenizer), name the blocks {hash:F2} ms, match against an index of {index.Count:N0} holdings {match:F3} ms"));
    }

    private static string Prompt(Random random, int bytes)
    {
        var text = new StringBuilder(bytes + 16);
        while (text.Length < bytes)
            text.Append(CultureInfo.InvariantCulture, $"w{random.Next(30_000)} ");
        return text.ToString(0, bytes);
    }

    private static async Task<(double Added, int PromptTokens)> SendAsync(HttpClient http, string prompt)
    {
        var body = JsonSerializer.Serialize(new { model = "bench", max_tokens = 1, messages = new[] { new { role = "user", content = prompt } } });
        using var response = await http.PostAsync(new Uri("/v1/chat/completions", UriKind.Relative), new StringContent(body, Encoding.UTF8, "application/json"));
        var json = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode)
            throw new InvalidOperationException($"{(int)response.StatusCode}: {json}");
        double engine = double.NaN, gateway = double.NaN;
        foreach (var metric in response.Headers.GetValues("Server-Timing").First().Split(','))
        {
            var parts = metric.Trim().Split(";dur=");
            var value = double.Parse(parts[1], CultureInfo.InvariantCulture);
            if (parts[0] == "engine")
                engine = value;
            else if (parts[0] == "gateway")
                gateway = value;
        }
        using var doc = JsonDocument.Parse(json);
        return (gateway - engine, doc.RootElement.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
    }
}
