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
}
