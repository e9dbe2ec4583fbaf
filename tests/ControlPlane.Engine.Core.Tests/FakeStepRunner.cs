using ControlPlane.Engine.Core.Scheduling;

namespace ControlPlane.Engine.Core.Tests;

/// <summary>
/// A step runner with a hand-made "model", in the way vLLM tests its scheduler: no device. It stores each
/// computed token in its block slot (as a real KV cache stores keys and values), and the next token is a
/// function of what the request's block table reads back, so a wrong block table, a lost block or a bad
/// import changes the output. Sampled rows map the request's draw onto the vocabulary.
/// </summary>
internal sealed class FakeStepRunner(int blocks, int blockSize) : IStepRunner
{
    public const int Vocabulary = 26;
    private readonly int[] _slots = new int[blocks * blockSize];

    public List<StepPlan> Plans { get; } = [];
    public string Backend => "fake";
    public KvDataLayout KvLayout { get; } = new("fake/token-per-slot", "int32", 4L * blockSize);

    public StepRun Run(StepPlan plan)
    {
        Plans.Add(plan);
        var tokens = new int[plan.Chunks.Count];
        for (var i = 0; i < tokens.Length; i++)
        {
            var chunk = plan.Chunks[i];
            var table = chunk.Request.BlockTable;
            for (var p = chunk.Start; p < chunk.Start + chunk.Count; p++)
                _slots[Slot(table, p)] = chunk.Request.TokenAt(p);
            tokens[i] = !chunk.Samples ? -1 : double.IsNaN(chunk.Draw) ? Greedy(table, chunk.Start + chunk.Count) : (int)(chunk.Draw * Vocabulary);
        }
        return new StepRun(tokens, TimeSpan.FromMilliseconds(1 + plan.PrefillTokens * 0.01 + plan.DecodeSequences * 0.1));
    }

    public ValueTask PaceAsync(TimeSpan duration, TimeSpan computed, bool idle, CancellationToken cancellationToken) => ValueTask.CompletedTask;

    public byte[] ReadBlocks(IReadOnlyList<int> blocks)
    {
        var data = new byte[blocks.Count * KvLayout.BytesPerBlock];
        for (var b = 0; b < blocks.Count; b++)
            Buffer.BlockCopy(_slots, blocks[b] * blockSize * 4, data, b * blockSize * 4, blockSize * 4);
        return data;
    }

    public void WriteBlocks(IReadOnlyList<int> blocks, ReadOnlySpan<byte> data)
    {
        var bytes = data.ToArray();
        for (var b = 0; b < blocks.Count; b++)
            Buffer.BlockCopy(bytes, b * blockSize * 4, _slots, blocks[b] * blockSize * 4, blockSize * 4);
    }

    public void Dispose()
    {
    }

    /// <summary>The "model": a hash of the context as read from the cache.</summary>
    private int Greedy(List<int> table, int length)
    {
        var h = 17u;
        for (var p = 0; p < length; p++)
            h = h * 31 + (uint)_slots[Slot(table, p)];
        return (int)(h % Vocabulary);
    }

    private int Slot(List<int> table, int position) => table[position / blockSize] * blockSize + position % blockSize;
}
