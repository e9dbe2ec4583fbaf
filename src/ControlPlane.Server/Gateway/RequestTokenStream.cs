using System.Threading.Channels;
using ControlPlane.Requests;
using ControlPlane.Tokens;

namespace ControlPlane.Server.Gateway;

/// <summary>
/// One request's incoming chunks, in sequence order: a chunk seen before is dropped, one that arrives
/// early waits for the gap to fill, so the client's stream never repeats or reorders.
/// </summary>
public sealed class RequestTokenStream
{
    private readonly Channel<TokenChunk> _channel = Channel.CreateUnbounded<TokenChunk>(new UnboundedChannelOptions { SingleReader = true });
    private readonly SortedDictionary<int, TokenChunk> _early = [];
    private readonly Lock _gate = new();
    private readonly List<int> _outputs = [];
    private readonly TimeProvider _time;
    private int _next;
    private bool _ended;
    private long _progressAt;

    public RequestTokenStream(string requestId, TimeProvider? time = null)
    {
        RequestId = requestId;
        _time = time ?? TimeProvider.System;
        _progressAt = _time.GetTimestamp();
    }

    public string RequestId { get; }
    public ChannelReader<TokenChunk> Reader => _channel.Reader;

    /// <summary>The sequence number of the next chunk the stream takes in.</summary>
    public int NextSequence
    {
        get
        {
            lock (_gate)
                return _next;
        }
    }

    /// <summary>How long since the stream last moved on (a chunk in order), or since it opened.</summary>
    public TimeSpan Silence
    {
        get
        {
            lock (_gate)
                return _time.GetElapsedTime(_progressAt);
        }
    }

    public void Accept(TokenChunk chunk)
    {
        lock (_gate)
        {
            if (chunk.Sequence < _next || _early.ContainsKey(chunk.Sequence))
                return;
            if (chunk.Sequence > _next)
            {
                _early[chunk.Sequence] = chunk;
                return;
            }
            Write(chunk);
            while (_early.Remove(_next, out var waiting))
                Write(waiting);
        }
    }

    /// <summary>
    /// What the stream has taken in so far, in order: the point a request resumes from when its instance is
    /// lost. Null once the last chunk is in (nothing left to resume).
    /// </summary>
    public RequestProgress? Progress()
    {
        lock (_gate)
            return Taken();
    }

    /// <summary>
    /// <see cref="Progress"/> for a resume: chunks that came early (after a gap) are dropped, since the instance that
    /// takes the request over sends again everything after the point it resumes from.
    /// </summary>
    public RequestProgress? ProgressForResume()
    {
        lock (_gate)
        {
            _early.Clear();
            return Taken();
        }
    }

    /// <summary>What the stream has taken in, in order; null once ended. Call under <see cref="_gate"/>.</summary>
    private RequestProgress? Taken() => _ended ? null : new RequestProgress { OutputTokenIds = [.. _outputs], NextSequence = _next };

    /// <summary>Ends the stream from the gateway's side (the request failed before or outside the engine).</summary>
    public void Complete(Exception? error = null) => _channel.Writer.TryComplete(error);

    private void Write(TokenChunk chunk)
    {
        _next = chunk.Sequence + 1;
        _progressAt = _time.GetTimestamp();
        _outputs.AddRange(chunk.TokenIds);
        _channel.Writer.TryWrite(chunk);
        if (chunk.FinishReason != FinishReason.None)
        {
            _ended = true;
            _channel.Writer.TryComplete();
        }
    }
}
