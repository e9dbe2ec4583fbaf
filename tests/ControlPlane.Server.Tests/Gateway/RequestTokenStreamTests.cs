using ControlPlane.Requests;
using ControlPlane.Server.Gateway;
using ControlPlane.Tokens;

namespace ControlPlane.Server.Tests.Gateway;

public class RequestTokenStreamTests
{
    private static TokenChunk Chunk(int sequence, bool last = false) => new()
    {
        RequestId = "r",
        Sequence = sequence,
        TokenIds = [sequence],
        Text = $"t{sequence}",
        FinishReason = last ? FinishReason.Length : FinishReason.None,
    };

    [Fact]
    public async Task Accept_RepeatedAndEarlyChunks_ComeOutOnceAndInOrder()
    {
        var stream = new RequestTokenStream("r");
        stream.Accept(Chunk(0));
        stream.Accept(Chunk(2));           // early: waits for 1
        stream.Accept(Chunk(0));           // repeat after a retry: dropped
        stream.Accept(Chunk(1));
        stream.Accept(Chunk(2));           // repeat of one held early: dropped
        stream.Accept(Chunk(3, last: true));
        stream.Accept(Chunk(3, last: true));

        var sequences = new List<int>();
        await foreach (var chunk in stream.Reader.ReadAllAsync())
            sequences.Add(chunk.Sequence);
        Assert.Equal([0, 1, 2, 3], sequences);
    }

    [Fact]
    public void ProgressForResume_DropsChunksThatCameEarly_AndSilenceCountsFromTheLastChunkInOrder()
    {
        var time = new ManualTime();
        var stream = new RequestTokenStream("r", time);
        stream.Accept(Chunk(0));
        time.Advance(TimeSpan.FromSeconds(3));
        stream.Accept(Chunk(2) with { Text = "from the old instance" }); // early: a gap at 1 (a batch lost on the way)
        Assert.Equal(TimeSpan.FromSeconds(3), stream.Silence);
        Assert.Equal(1, stream.NextSequence);

        var progress = stream.ProgressForResume()!;
        Assert.Equal(1, progress.NextSequence);
        Assert.Equal([0], progress.OutputTokenIds);
        // The instance that takes over sends 1 and 2 again: its chunks are the ones the client gets.
        stream.Accept(Chunk(1));
        stream.Accept(Chunk(2));
        Assert.Equal(3, stream.NextSequence);
        Assert.Equal(TimeSpan.Zero, stream.Silence);
        var texts = new List<string>();
        while (stream.Reader.TryRead(out var chunk))
            texts.Add(chunk.Text);
        Assert.Equal(["t0", "t1", "t2"], texts);
    }

    private sealed class ManualTime : TimeProvider
    {
        private long _ticks;
        public void Advance(TimeSpan by) => _ticks += by.Ticks;
        public override long GetTimestamp() => _ticks;
        public override long TimestampFrequency => TimeSpan.TicksPerSecond;
    }
}
