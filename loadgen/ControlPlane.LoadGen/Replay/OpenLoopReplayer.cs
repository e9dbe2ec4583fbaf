using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace ControlPlane.LoadGen.Replay;

/// <summary>
/// Sends requests on the trace's clock whatever the server does (open loop): a dedicated thread releases
/// each request when it is due, without spinning, and each request streams its answer and records when
/// its chunks arrive. Send lag (sent − scheduled) is recorded per request so the schedule is checkable.
/// </summary>
public sealed class OpenLoopReplayer(HttpClient http, ReplayOptions options)
{
    public async Task<IReadOnlyList<RequestRecord>> RunAsync(IReadOnlyList<(double ArrivalMs, int InputTokens, int OutputTokens, string Prompt)> requests,
        IProgress<ReplayProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var classes = options.DrawClasses(requests.Count);
        var bodies = requests.Select((r, i) => Body(r.Prompt, r.OutputTokens, classes[i])).ToArray();
        var records = new RequestRecord[requests.Count];
        var tasks = new Task[requests.Count];
        var clock = Stopwatch.StartNew();
        int sent = 0, finished = 0, failed = 0;
        using var released = new CountdownEvent(1);

        async Task Track(int index, Task<RequestRecord> pending)
        {
            var record = await pending.ConfigureAwait(false);
            records[index] = record;
            Interlocked.Increment(ref finished);
            if (!record.Succeeded)
                Interlocked.Increment(ref failed);
        }

        var scheduler = new Thread(() =>
        {
            for (var i = 0; i < requests.Count && !cancellationToken.IsCancellationRequested; i++)
            {
                var due = requests[i].ArrivalMs;
                while (clock.Elapsed.TotalMilliseconds < due)
                    Thread.Sleep(due - clock.Elapsed.TotalMilliseconds > 1.2 ? 1 : 0); // sleep while a whole timer tick fits, yield for the rest
                // Called on this thread: the request is written to its connection before the next one is
                // considered (the first await inside HttpClient comes after the send), and its lag is exact.
                Interlocked.Increment(ref sent);
                tasks[i] = Track(i, SendAsync(i, requests[i].InputTokens, requests[i].OutputTokens, classes[i], bodies[i], due, clock, cancellationToken));
            }
            released.Signal();
        }) { IsBackground = true, Name = "replay-scheduler", Priority = ThreadPriority.Highest };
        scheduler.Start();

        using var ticker = new PeriodicTimer(TimeSpan.FromMilliseconds(250));
        while (!released.IsSet || Volatile.Read(ref finished) < Volatile.Read(ref sent))
        {
            progress?.Report(new ReplayProgress(requests.Count, Volatile.Read(ref sent), Volatile.Read(ref finished), Volatile.Read(ref failed), clock.Elapsed.TotalSeconds));
            await ticker.WaitForNextTickAsync(CancellationToken.None);
        }
        await Task.WhenAll(tasks.Where(t => t is not null));
        progress?.Report(new ReplayProgress(requests.Count, sent, finished, failed, clock.Elapsed.TotalSeconds));
        return [.. records.Where(r => r is not null)];
    }

    private byte[] Body(string prompt, int outputTokens, string? priorityClass)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("model", options.Model);
            if (options.Api == "chat")
            {
                json.WriteStartArray("messages");
                json.WriteStartObject();
                json.WriteString("role", "user");
                json.WriteString("content", prompt);
                json.WriteEndObject();
                json.WriteEndArray();
            }
            else
            {
                json.WriteString("prompt", prompt);
            }
            json.WriteNumber("max_tokens", Math.Max(1, outputTokens));
            json.WriteBoolean("stream", true);
            json.WriteStartObject("stream_options");
            json.WriteBoolean("include_usage", true);
            json.WriteEndObject();
            if (options.IgnoreEos)
                json.WriteBoolean("ignore_eos", true);
            if (priorityClass is not null)
                json.WriteString("priority_class", priorityClass);
            json.WriteEndObject();
        }
        return buffer.ToArray();
    }

    private async Task<RequestRecord> SendAsync(int index, int inputTokens, int outputTokens, string? priorityClass, byte[] body, double due, Stopwatch clock,
        CancellationToken cancellationToken)
    {
        var sentAt = clock.Elapsed.TotalMilliseconds;
        var record = new RequestRecord
        {
            Index = index, ScheduledMs = due, SentMs = sentAt, InputTokens = inputTokens, ExpectedOutputTokens = outputTokens, PriorityClass = priorityClass,
        };
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.RequestTimeout);
        double? first = null;
        var last = 0.0;
        var gaps = new List<double>(Math.Min(outputTokens, 4096));
        var chunks = 0;
        int? usageTokens = null;
        double? energy = null;
        int? cached = null;
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(options.Endpoint, options.Api == "chat" ? "v1/chat/completions" : "v1/completions"))
            {
                Content = new ByteArrayContent(body) { Headers = { ContentType = new MediaTypeHeaderValue("application/json") } },
            };
            if (options.ApiKey is not null)
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", options.ApiKey);
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            if (!response.IsSuccessStatusCode)
                return record with { EndMs = clock.Elapsed.TotalMilliseconds, Error = $"http_{(int)response.StatusCode}" };
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(timeout.Token), Encoding.UTF8);
            string? line;
            while ((line = await reader.ReadLineAsync(timeout.Token)) is not null)
            {
                if (!line.StartsWith("data: ", StringComparison.Ordinal))
                    continue;
                if (line.Length == 12 && line.EndsWith("[DONE]", StringComparison.Ordinal))
                    break;
                var now = clock.Elapsed.TotalMilliseconds;
                var (hasText, usage, joules, cachedTokens, error) = Inspect(line.AsMemory(6));
                energy = joules ?? energy;
                cached = cachedTokens ?? cached;
                if (error is not null)
                    return record with { EndMs = now, Error = "stream_error", FirstTokenMs = first, OutputTokens = chunks };
                usageTokens = usage ?? usageTokens;
                if (!hasText)
                    continue;
                if (first is null)
                    first = now;
                else
                    gaps.Add(now - last);
                last = now;
                chunks++;
            }
            return record with { FirstTokenMs = first, EndMs = clock.Elapsed.TotalMilliseconds, OutputTokens = usageTokens ?? chunks, InterTokenMs = gaps, EnergyJoules = energy, CachedTokens = cached };
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return record with { EndMs = clock.Elapsed.TotalMilliseconds, Error = "timeout", FirstTokenMs = first, OutputTokens = chunks };
        }
        catch (HttpRequestException)
        {
            return record with { EndMs = clock.Elapsed.TotalMilliseconds, Error = "connection", FirstTokenMs = first, OutputTokens = chunks };
        }
        catch (IOException)
        {
            return record with { EndMs = clock.Elapsed.TotalMilliseconds, Error = "connection", FirstTokenMs = first, OutputTokens = chunks };
        }
    }

    /// <summary>Whether an event carries output (any choice with a token), its usage (energy, cached prompt tokens), and an error if the server sent one.</summary>
    private static (bool HasText, int? Usage, double? EnergyJoules, int? CachedTokens, string? Error) Inspect(ReadOnlyMemory<char> data)
    {
        using var json = JsonDocument.Parse(data);
        var root = json.RootElement;
        if (root.TryGetProperty("error", out var error))
            return (false, null, null, null, error.ToString());
        var hasUsage = root.TryGetProperty("usage", out var u) && u.ValueKind == JsonValueKind.Object;
        int? usage = hasUsage ? u.GetProperty("completion_tokens").GetInt32() : null;
        double? energy = hasUsage && u.TryGetProperty("energy_joules", out var j) && j.ValueKind == JsonValueKind.Number ? j.GetDouble() : null;
        int? cached = hasUsage && u.TryGetProperty("prompt_tokens_details", out var details) && details.ValueKind == JsonValueKind.Object
            && details.TryGetProperty("cached_tokens", out var c) && c.ValueKind == JsonValueKind.Number ? c.GetInt32() : null;
        var hasText = false;
        if (root.TryGetProperty("choices", out var choices))
        {
            foreach (var choice in choices.EnumerateArray())
            {
                if ((choice.TryGetProperty("text", out var text) && text.GetString() is { Length: > 0 })
                    || (choice.TryGetProperty("delta", out var delta) && delta.TryGetProperty("content", out var content) && content.GetString() is { Length: > 0 }))
                    hasText = true;
            }
        }
        return (hasText, usage, energy, cached, null);
    }
}
