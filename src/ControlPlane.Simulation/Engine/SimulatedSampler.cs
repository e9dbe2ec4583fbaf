using ControlPlane.Engine.Core.Scheduling;
using ControlPlane.Simulation.Tokenization;

namespace ControlPlane.Simulation.Engine;

/// <summary>
/// The simulated model's "next token": greedy is a pure function of the context, sampling maps the request's
/// own draw onto the vocabulary, so a seed reproduces a request's output exactly.
/// </summary>
internal static class SimulatedSampler
{
    public static int Next(ScheduledChunk chunk)
    {
        var words = SimulatedTokenizer.WordCount - 1;
        var request = chunk.Request;
        var sampling = request.Spec.Sampling;
        if (double.IsNaN(chunk.Draw))
        {
            var last = request.ContextTokens == 0 ? 0 : request.TokenAt(request.ContextTokens - 1);
            var mixed = (uint)(last * 2654435761u) ^ (uint)(request.ContextTokens * 40503u);
            return 1 + (int)(mixed % (uint)words);
        }
        // top_p narrows the choice to the first share of the vocabulary, as a real nucleus narrows it to
        // the most likely tokens; temperature widens it.
        var span = Math.Clamp((int)Math.Ceiling(words * sampling.TopP * Math.Min(1f, sampling.Temperature)), 1, words);
        return 1 + Math.Min(span - 1, (int)(chunk.Draw * span));
    }
}
