using ControlPlane.Engines;
using ControlPlane.Requests;
using ControlPlane.Simulation.Tokenization;

namespace ControlPlane.Simulation.Engine;

public sealed partial class SimulatedEngine
{
    /// <summary>
    /// Plans and runs one step without waiting: running requests first (a decode token each, or their next
    /// prefill chunk), preempting the newest when blocks run out; then waiting requests while the token
    /// budget and free blocks allow. Returns the outputs and how long the step takes on the profiled GPU.
    /// </summary>
    public EngineStepResult ComputeStep()
    {
        var budget = _profile.MaxBatchedTokens;
        var scheduled = new List<(SimulatedSequence Sequence, int Tokens)>(_running.Count + 4);
        var preempted = false;
        for (var i = 0; i < _running.Count && budget > 0; i++)
        {
            var sequence = _running[i];
            var tokens = Math.Min(sequence.ContextTokens - sequence.ComputedTokens, budget);
            var need = sequence.BlocksFor(sequence.ComputedTokens + tokens, BlockSize) - sequence.HeldBlocks;
            while (need > _blocks.Free && _running.Count > 0)
            {
                var victim = _running[^1];
                Preempt(victim);
                preempted = true;
                if (ReferenceEquals(victim, sequence))
                    break;
            }
            if (!_running.Contains(sequence))
                break;
            _blocks.TryTake(need);
            sequence.HeldBlocks += need;
            scheduled.Add((sequence, tokens));
            budget -= tokens;
        }

        while (!preempted && budget > 0 && _waiting.Count > 0 && _running.Count < _profile.MaxRunningRequests)
        {
            var sequence = _waiting.Min!;
            var whole = sequence.BlocksFor(sequence.ContextTokens + 1, BlockSize);
            if (whole - sequence.HeldBlocks > _blocks.Free)
                break;
            var tokens = Math.Min(sequence.ContextTokens - sequence.ComputedTokens, budget);
            var need = sequence.BlocksFor(sequence.ComputedTokens + tokens, BlockSize) - sequence.HeldBlocks;
            _blocks.TryTake(need);
            sequence.HeldBlocks += need;
            _waiting.Remove(sequence);
            _running.Add(sequence);
            scheduled.Add((sequence, tokens));
            budget -= tokens;
        }

        return RunScheduled(scheduled);
    }

    private EngineStepResult RunScheduled(List<(SimulatedSequence Sequence, int Tokens)> scheduled)
    {
        var prefillTokens = 0;
        var decodeSequences = 0;
        long context = 0;
        var outputs = new List<RequestOutput>(scheduled.Count);
        foreach (var (sequence, tokens) in scheduled)
        {
            var decoding = tokens == 1 && sequence.OutputTokenIds.Count > 0;
            if (decoding)
                decodeSequences++;
            else
                prefillTokens += tokens;
            sequence.ComputedTokens += tokens;
            context += sequence.ComputedTokens;
            if (sequence.ComputedTokens == sequence.ContextTokens)
                outputs.Add(Sample(sequence));
        }
        return new EngineStepResult
        {
            Outputs = outputs,
            PrefillTokens = prefillTokens,
            DecodeSequences = decodeSequences,
            Duration = scheduled.Count == 0 ? TimeSpan.Zero : _profile.StepTime(prefillTokens, decodeSequences, context),
        };
    }

    private RequestOutput Sample(SimulatedSequence sequence)
    {
        var token = SimulatedSampler.Next(sequence);
        sequence.OutputTokenIds.Add(token);
        var (text, finish) = OutputRules.Apply(sequence.Spec.Sampling, token, sequence.OutputTokenIds.Count,
            SimulatedTokenizer.Instance.EndOfSequenceTokenIds, sequence.Stops, () => SimulatedTokenizer.Word(token));
        if (finish != FinishReason.None)
        {
            _running.Remove(sequence);
            _byId.Remove(sequence.Spec.RequestId);
            ReleaseBlocks(sequence);
        }
        return new RequestOutput
        {
            RequestId = sequence.Spec.RequestId,
            NewTokenIds = [token],
            TextDelta = text,
            FinishReason = finish,
            PromptTokens = sequence.PromptTokens,
            CompletionTokens = sequence.OutputTokenIds.Count,
            CachedPromptTokens = sequence.CachedPromptTokens,
        };
    }

    /// <summary>Recompute preemption: the request gives back every block and waits to prefill its whole context again.</summary>
    private void Preempt(SimulatedSequence sequence)
    {
        _running.Remove(sequence);
        ReleaseBlocks(sequence);
        sequence.ComputedTokens = 0;
        _waiting.Add(sequence);
        _preemptions++;
    }
}
