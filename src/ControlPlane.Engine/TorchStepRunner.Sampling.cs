using ControlPlane.Engine.Core.Output;
using ControlPlane.Engine.Core.Scheduling;
using ControlPlane.Engine.Sampling;
using static TorchSharp.torch;

namespace ControlPlane.Engine;

public sealed partial class TorchStepRunner
{
    /// <summary>
    /// A token for each chunk with a logits row (<paramref name="rowOf"/>: its row, or -1 for a prefill chunk
    /// that is not the prompt's last). Greedy rows need only the argmax, the others one batched draw on the
    /// device: one small copy each for the whole batch, never a vocabulary per row.
    /// </summary>
    private static int[] Sample(IReadOnlyList<ScheduledChunk> chunks, int[] rowOf, Tensor logits)
    {
        var sampled = Enumerable.Range(0, chunks.Count)
            .Where(i => rowOf[i] >= 0 && !OutputRules.IsGreedy(chunks[i].Request.Spec.Sampling)).ToArray();
        var tokens = new int[chunks.Count];
        Array.Fill(tokens, -1);
        if (rowOf.Count(r => r >= 0) > sampled.Length) // some rows are greedy
        {
            using var argmax = logits.argmax(-1).cpu();
            var best = argmax.data<long>().ToArray();
            for (var i = 0; i < chunks.Count; i++)
                tokens[i] = rowOf[i] >= 0 ? (int)best[rowOf[i]] : -1;
        }
        if (sampled.Length > 0)
        {
            using var index = tensor(sampled.Select(i => (long)rowOf[i]).ToArray(), device: logits.device);
            using var rows = logits.index_select(0, index);
            var drawn = TokenSampler.Sample(rows, [.. sampled.Select(i => chunks[i].Request.Spec.Sampling)], [.. sampled.Select(i => chunks[i].Draw)]);
            for (var k = 0; k < sampled.Length; k++)
                tokens[sampled[k]] = (int)drawn[k];
        }
        return tokens;
    }
}
