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
    /// <param name="requests">Requests of each size.</param>
    /// <param name="bpeFolder">A folder with a byte-level BPE <c>tokenizer.json</c> (as <c>make_tokenizer.py</c> writes for a Llama-3-sized
    /// vocabulary): its cost on the 200 KB prompt is timed too. Null: not timed.</param>
    public static async Task RunAsync(int requests = 20, string? bpeFolder = null)
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
        if (bpeFolder is not null)
            Bpe(bpeFolder);
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

    /// <summary>A byte-level BPE tokenizer (128k vocabulary, words of ordinary text one token each) on 200 KB of such text.</summary>
    private static void Bpe(string folder)
    {
        var tokenizer = ControlPlane.Tokenization.HuggingFaceTokenizer.Load(folder, []);
        string[] words = ["the", "of", "and", "to", "in", "is", "was", "for", "on", "that", "with", "city", "light", "river", "stone", "cloud", "music", "signal", "window", "forest"];
        var random = new Random(3);
        var text = new StringBuilder(200_016);
        while (text.Length < 200_000)
            text.Append(' ').Append(words[random.Next(words.Length)]);
        var prompt = text.ToString(0, 200_000);
        var count = tokenizer.Encode(prompt).Count;
        var watch = Stopwatch.StartNew();
        for (var i = 0; i < 10; i++)
            tokenizer.Encode(prompt);
        Console.WriteLine(FormattableString.Invariant(
            $"- a byte-level BPE tokenizer of 128,256 tokens (Microsoft.ML.Tokenizers, as the gateway loads a model's tokenizer.json) on 200 KB of plain words: {count:N0} tokens in {watch.Elapsed.TotalMilliseconds / 10:F1} ms"));
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
        var (engine, gateway) = ServerTiming.Of(response);
        using var doc = JsonDocument.Parse(json);
        return (gateway - engine, doc.RootElement.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
    }
}
