using ControlPlane.Simulation.Tokenization;

namespace ControlPlane.Simulation.Engine;

/// <summary>
/// The simulated model's "next token": greedy (temperature 0) is a pure function of the context, sampling
/// draws from the request's own random source, so a seed reproduces a request's output exactly.
/// </summary>
internal static class SimulatedSampler
{
    public static int Next(SimulatedSequence sequence)
    {
        var words = SimulatedTokenizer.WordCount - 1;
        var sampling = sequence.Spec.Sampling;
        if (sampling.Temperature <= 0)
        {
            var last = sequence.ContextTokens == 0 ? 0 : sequence.TokenAt(sequence.ContextTokens - 1);
            var mixed = (uint)(last * 2654435761u) ^ (uint)(sequence.ContextTokens * 40503u);
            return 1 + (int)(mixed % (uint)words);
        }
        // top_p narrows the choice to the first share of the vocabulary, as a real nucleus narrows it to
        // the most likely tokens; temperature widens it.
        var span = Math.Clamp((int)Math.Ceiling(words * sampling.TopP * Math.Min(1f, sampling.Temperature)), 1, words);
        return 1 + sequence.Random.Next(span);
    }
}
