using ControlPlane.Engine.KvCache;
using ControlPlane.Engine.Model;
using ControlPlane.Engine.Sampling;
using ControlPlane.Engines;
using ControlPlane.Requests;

namespace ControlPlane.Engine;

public sealed partial class TorchEngine
{
    /// <summary>
    /// One step: running requests first (a decode token each, or their next prefill chunk), preempting the
    /// newest when blocks run out; then waiting requests, which first take any cached blocks of their
    /// prefix, while the token budget and free blocks allow. Then one forward pass and sampling.
    /// </summary>
    public EngineStepResult ComputeStep()
    {
        var budget = _options.MaxBatchedTokens;
        var plan = new List<(TorchSequence Sequence, int Tokens)>();
        var preempted = false;
        for (var i = 0; i < _running.Count && budget > 0; i++)
        {
            var sequence = _running[i];
            var tokens = Math.Min(sequence.ContextTokens - sequence.ComputedTokens, budget);
            if (tokens <= 0)
                continue;
            if (!Reserve(sequence, sequence.ComputedTokens + tokens, ref preempted))
                break;
            plan.Add((sequence, tokens));
            budget -= tokens;
        }
        while (!preempted && budget > 0 && _waiting.Count > 0 && _running.Count < _options.MaxRunningRequests)
        {
            var sequence = _waiting.Min!;
            if (sequence.BlockTable.Count == 0)
                SharePrefix(sequence);
            if (BlocksFor(sequence.ContextTokens + 1) - sequence.BlockTable.Count > _pool.Available)
            {
                ReleaseBlocks(sequence); // give back shared blocks; it retries next step
                sequence.CachedPromptTokens = 0;
                break;
            }
            var tokens = Math.Min(sequence.ContextTokens - sequence.ComputedTokens, budget);
            var ok = Reserve(sequence, sequence.ComputedTokens + tokens, ref preempted);
            System.Diagnostics.Debug.Assert(ok);
            _waiting.Remove(sequence);
            _running.Add(sequence);
            plan.Add((sequence, tokens));
            budget -= tokens;
        }
        return plan.Count == 0 ? EngineStepResult.Empty : Run(plan);
    }

    /// <summary>Makes the block table cover <paramref name="tokens"/>; preempts the newest running request while blocks are short.</summary>
    private bool Reserve(TorchSequence sequence, int tokens, ref bool preempted)
    {
        while (sequence.BlockTable.Count < BlocksFor(tokens))
        {
            if (_pool.TryAllocate(out var block))
            {
                sequence.BlockTable.Add(block);
                continue;
            }
            var victim = _running.Count > 0 ? _running[^1] : null;
            if (victim is null)
                return false;
            Preempt(victim);
            preempted = true;
            if (ReferenceEquals(victim, sequence))
                return false;
        }
        return true;
    }

    private void SharePrefix(TorchSequence sequence)
    {
        // Leave at least one token to compute: its logits give the next token.
        var shareable = (sequence.ContextTokens - 1) / BlockSize;
        var previous = 0UL;
        for (var b = 0; b < shareable; b++)
        {
            var hash = KvBlockPool.ChainHash(previous, sequence.Tokens(b * BlockSize, BlockSize));
            if (!_pool.TryShare(hash, out var block))
                break;
            sequence.BlockTable.Add(block);
            sequence.BlockHashes.Add(hash);
            previous = hash;
        }
        sequence.ComputedTokens = sequence.BlockTable.Count * BlockSize;
        sequence.CachedPromptTokens = Math.Min(sequence.ComputedTokens, sequence.PromptTokens);
    }

    private void Preempt(TorchSequence sequence)
    {
        _running.Remove(sequence);
        ReleaseBlocks(sequence);
        sequence.CachedPromptTokens = 0;
        _waiting.Add(sequence);
        _preemptions++;
    }

    private EngineStepResult Run(List<(TorchSequence Sequence, int Tokens)> plan)
    {
        if (_graphs is not null && plan.TrueForAll(p => p.Tokens == 1 && p.Sequence.ComputedTokens > 0)
            && _graphs.Fits(plan.Count, plan.Max(p => p.Sequence.BlockTable.Count)))
            return RunGraph(plan);
        var total = plan.Sum(p => p.Tokens);
        var tokens = new long[total];
        var positions = new long[total];
        var slots = new long[total];
        var slices = new List<SequenceSlice>(plan.Count);
        var row = 0;
        int prefill = 0, decode = 0;
        foreach (var (sequence, count) in plan)
        {
            var start = sequence.ComputedTokens;
            var context = start + count;
            var contextSlots = new long[context];
            for (var p = 0; p < context; p++)
                contextSlots[p] = Slot(sequence, p);
            for (var j = 0; j < count; j++)
            {
                tokens[row + j] = sequence.TokenAt(start + j);
                positions[row + j] = start + j;
                slots[row + j] = contextSlots[start + j];
            }
            var sampling = context == sequence.ContextTokens;
            slices.Add(new SequenceSlice(row, count, context, contextSlots, sampling));
            row += count;
            if (count == 1 && sequence.OutputTokenIds.Count > 0)
                decode++;
            else
                prefill += count;
        }

        using var logits = _forward.Run(new ForwardBatch(tokens, positions, slots, slices), _cache);
        // The forward pass gives logits only for the sequences that want them, in plan order.
        var logitRow = 0;
        return Sample(plan, [.. slices.Select(s => s.WantLogits ? logitRow++ : -1)], logits, prefill, decode);
    }

    /// <summary>A step of single new tokens (decodes) as one CUDA graph replay: no per-token slot lists, one input copy.</summary>
    private EngineStepResult RunGraph(List<(TorchSequence Sequence, int Tokens)> plan)
    {
        var n = plan.Count;
        var tokens = new long[n];
        var positions = new long[n];
        var slots = new long[n];
        var lengths = new long[n];
        var rowOf = new int[n];
        var tables = new List<int>[n];
        int prefill = 0, decode = 0;
        for (var i = 0; i < n; i++)
        {
            var sequence = plan[i].Sequence;
            var position = sequence.ComputedTokens;
            tokens[i] = sequence.TokenAt(position);
            positions[i] = position;
            slots[i] = Slot(sequence, position);
            lengths[i] = position + 1;
            tables[i] = sequence.BlockTable;
            rowOf[i] = position + 1 == sequence.ContextTokens ? i : -1; // the graph gives every row's logits
            if (sequence.OutputTokenIds.Count > 0)
                decode++;
            else
                prefill++;
        }
        using var hidden = _graphs!.Run(tokens, positions, slots, lengths, tables);
        using var logits = _forward.Logits(hidden);
        return Sample(plan, rowOf, logits, prefill, decode);
    }

    /// <summary>
    /// Advances every planned sequence and samples a token for each with a logits row (<paramref name="rowOf"/>:
    /// its row, or -1 for a prefill chunk that is not the prompt's last).
    /// </summary>
    private EngineStepResult Sample(List<(TorchSequence Sequence, int Tokens)> plan, int[] rowOf, TorchSharp.torch.Tensor logits, int prefill, int decode)
    {
        // Greedy rows need only the argmax, the others one batched draw on the device: one small copy each for
        // the whole batch, never a vocabulary per row.
        var sampled = Enumerable.Range(0, plan.Count)
            .Where(i => rowOf[i] >= 0 && !TokenSampler.IsGreedy(plan[i].Sequence.Spec.Sampling)).ToArray();
        var tokens = new long[plan.Count];
        if (rowOf.Count(r => r >= 0) > sampled.Length) // some rows are greedy
        {
            using var argmax = logits.argmax(-1).cpu();
            var best = argmax.data<long>().ToArray();
            for (var i = 0; i < plan.Count; i++)
                tokens[i] = rowOf[i] >= 0 ? best[rowOf[i]] : 0;
        }
        if (sampled.Length > 0)
        {
            using var index = TorchSharp.torch.tensor(sampled.Select(i => (long)rowOf[i]).ToArray(), device: logits.device);
            using var rows = logits.index_select(0, index);
            var drawn = TokenSampler.Sample(rows, [.. sampled.Select(i => plan[i].Sequence.Spec.Sampling)],
                [.. sampled.Select(i => plan[i].Sequence.Random.NextDouble())]);
            for (var k = 0; k < sampled.Length; k++)
                tokens[sampled[k]] = drawn[k];
        }
        var outputs = new List<RequestOutput>();
        for (var i = 0; i < plan.Count; i++)
        {
            var (sequence, count) = plan[i];
            sequence.ComputedTokens += count;
            NameFullBlocks(sequence);
            if (rowOf[i] >= 0)
                outputs.Add(Emit(sequence, (int)tokens[i]));
        }
        return new EngineStepResult { Outputs = outputs, PrefillTokens = prefill, DecodeSequences = decode };
    }

    private long Slot(TorchSequence sequence, int position) => (long)sequence.BlockTable[position / BlockSize] * BlockSize + position % BlockSize;

    private void NameFullBlocks(TorchSequence sequence)
    {
        var full = sequence.ComputedTokens / BlockSize;
        while (sequence.BlockHashes.Count < full)
        {
            var b = sequence.BlockHashes.Count;
            var previous = b == 0 ? 0UL : sequence.BlockHashes[b - 1];
            var hash = KvBlockPool.ChainHash(previous, sequence.Tokens(b * BlockSize, BlockSize));
            sequence.BlockHashes.Add(hash);
            _pool.Name(sequence.BlockTable[b], hash);
        }
    }

    private RequestOutput Emit(TorchSequence sequence, int token)
    {
        sequence.OutputTokenIds.Add(token);
        var (text, finish) = OutputRules.Apply(sequence.Spec.Sampling, token, sequence.OutputTokenIds.Count,
            _tokenizer.EndOfSequenceTokenIds, sequence.Stops, () => sequence.Detokenizer.Add(token));
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
}
