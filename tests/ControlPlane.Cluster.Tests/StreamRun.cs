using System.ClientModel;
using System.Diagnostics;
using System.Text;
using OpenAI;
using ControlPlane.Testing.Cluster;
using OpenAI.Chat;

namespace ControlPlane.Cluster.Tests;

/// <summary>
/// Many streaming chat requests at once through the official OpenAI client: each request's text, finish,
/// usage, error and the time of every chunk, so a run with a fault can be compared with one without.
/// </summary>
internal sealed class StreamRun
{
    private readonly ChatClient _client;
    private readonly int _count;
    private readonly int _maxTokens;
    private readonly TaskCompletionSource _allStreaming = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _waiting;

    private readonly int _padWords;
    private readonly string _salt;

    /// <param name="gateway">The gateway.</param>
    /// <param name="count">Requests, all sent at once.</param>
    /// <param name="maxTokens">Tokens each asks for.</param>
    /// <param name="startedAfterChunks">Chunks each must have read for <see cref="AllStreaming"/>.</param>
    /// <param name="padWords">Words added to each prompt (a long prompt: split by disaggregation, slow to prefill).</param>
    /// <param name="salt">A word that starts each prompt: runs with different salts share no cached prefix.</param>
    public StreamRun(Uri gateway, int count, int maxTokens, int startedAfterChunks = 20, int padWords = 0, string salt = "")
    {
        _salt = salt.Length == 0 ? "" : salt + " ";
        _padWords = padWords;
        _client = new OpenAIClient(new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = new Uri(gateway, "v1"), NetworkTimeout = TimeSpan.FromMinutes(3) })
            .GetChatClient(LocalCluster.Model);
        _count = count;
        _maxTokens = maxTokens;
        StartedAfterChunks = startedAfterChunks;
        _waiting = count;
    }

    public int StartedAfterChunks { get; }
    public Stopwatch Clock { get; } = new();

    /// <summary>Set once every request has received <see cref="StartedAfterChunks"/> chunks: all are mid-stream.</summary>
    public Task AllStreaming => _allStreaming.Task;

    public Task<StreamResult[]> RunAsync()
    {
        Clock.Start();
        return Task.WhenAll(Enumerable.Range(0, _count).Select(RunOneAsync));
    }

    private string Padding(int index) =>
        _padWords == 0 ? "" : " " + string.Join(' ', Enumerable.Range(0, _padWords).Select(j => $"w{(j * 7 + index) % 97}"));

    private void Signal()
    {
        if (Interlocked.Decrement(ref _waiting) == 0)
            _allStreaming.TrySetResult();
    }

    private async Task<StreamResult> RunOneAsync(int index)
    {
        var text = new StringBuilder();
        var times = new List<TimeSpan>();
        var result = new StreamResult(index);
        var options = new ChatCompletionOptions { MaxOutputTokenCount = _maxTokens, Temperature = 0 };
        var signalled = false;
        try
        {
            await foreach (var update in _client.CompleteChatStreamingAsync([new UserChatMessage($"{_salt}request {index}: tell me about silo {index % 7}" + Padding(index))], options))
            {
                foreach (var part in update.ContentUpdate)
                    text.Append(part.Text);
                if (update.ContentUpdate.Count > 0)
                    times.Add(Clock.Elapsed);
                if (update.FinishReason is { } finish)
                    result.Finish = finish.ToString();
                if (update.Usage is { } usage)
                {
                    result.CompletionTokens = usage.OutputTokenCount;
                    result.CachedTokens = usage.InputTokenDetails?.CachedTokenCount ?? 0;
                }
                if (!signalled && times.Count >= StartedAfterChunks)
                {
                    signalled = true;
                    Signal();
                }
            }
        }
        catch (Exception ex)
        {
            result.Error = ex.Message;
        }
        if (!signalled)
            Signal();
        result.Text = text.ToString();
        result.ChunkTimes = times;
        return result;
    }
}

internal sealed class StreamResult(int index)
{
    public int Index { get; } = index;
    public string Text { get; set; } = "";
    public string? Finish { get; set; }
    public int CompletionTokens { get; set; }
    public int CachedTokens { get; set; }
    public string? Error { get; set; }
    public IReadOnlyList<TimeSpan> ChunkTimes { get; set; } = [];

    /// <summary>The longest wait between two chunks, and when the chunk after it came.</summary>
    public (TimeSpan Gap, TimeSpan Resumed) LongestGap()
    {
        var longest = (Gap: TimeSpan.Zero, Resumed: TimeSpan.Zero);
        for (var i = 1; i < ChunkTimes.Count; i++)
        {
            if (ChunkTimes[i] - ChunkTimes[i - 1] > longest.Gap)
                longest = (ChunkTimes[i] - ChunkTimes[i - 1], ChunkTimes[i]);
        }
        return longest;
    }
}
