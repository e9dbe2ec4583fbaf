using ControlPlane.Engine.Cuda;
using ControlPlane.Engine.KvCache;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace ControlPlane.Engine.Model;

/// <summary>
/// The decoder's forward pass over a batch of sequences with paged KV: new tokens' keys and values are
/// written to their cache slots, then each query attends to its sequence's slots. Decoding sequences (one
/// new token each) share one padded attention call; prefill chunks attend one sequence at a time.
/// With <see cref="CudaKernels"/> (on a GPU), RMSNorm, RoPE with the cache write, and decode attention over
/// the block tables are single kernels of the engine's own, and decode steps can run as CUDA graphs; with bf16 or
/// fp16 weights on tensor cores, every prefill chunk of a step attends in one paged prefill launch a layer.
/// </summary>
public sealed class LlamaForward(LlamaWeights weights, RotaryEmbedding rope, CudaKernels? kernels = null)
{
    private readonly int _heads = weights.Config.Heads;
    private readonly int _kvHeads = weights.Config.KvHeads;
    private readonly int _headDim = weights.Config.HeadDim;
    private readonly double _eps = weights.Config.RmsNormEps;

    // The scalars of the eager ops, made once and held for the model's life. A temporary TorchSharp Scalar (what a
    // double converts to at each call) can be finalized on the GC's thread while the native op still reads it: seen as
    // "INTERNAL ASSERT FAILED at c10/core/Scalar.h" in pow(2) when two engines in one process allocate hard. The
    // operators' own temporaries (the alpha of a + b, the 2 of square()) are avoided by TorchOps.
    private readonly TorchSharp.Scalar _epsScalar = (TorchSharp.Scalar)weights.Config.RmsNormEps;
    private readonly TorchSharp.Scalar _attentionScale = (TorchSharp.Scalar)(1.0 / Math.Sqrt(weights.Config.HeadDim));
    private readonly TorchSharp.Scalar _minusInfinity = (TorchSharp.Scalar)float.NegativeInfinity;

    public LlamaWeights Weights { get; } = weights;

    /// <summary>Runs the batch; returns float32 logits [sequences wanting logits, vocabulary], in batch order.</summary>
    public Tensor Run(ForwardBatch batch, PagedKvCache cache)
    {
        using var scope = NewDisposeScope();
        var device = Weights.Device;
        var tokens = tensor(batch.TokenIds, device: device);
        var positions = tensor(batch.Positions, device: device);
        var slots = tensor(batch.Slots, device: device);
        // Every index and mask the layers need is made here, once per step: a host-to-device copy inside the
        // layer loop would make the CPU wait for the GPU at every layer.
        var decode = batch.Sequences.Where(IsDecode).ToArray();
        DecodeGroupIndex? decodeIndex = decode.Length > 0 ? DecodeIndex(decode, device, cache.BlockSize) : null;
        var prefill = kernels is { HasPrefill: true } ? PrefillTiles(batch, decodeIndex is not null, device, cache.BlockSize) : null;
        var single = prefill is not null ? [] : batch.Sequences.Select(s => decodeIndex is not null && IsDecode(s) ? default : SingleInputs(s, device)).ToArray();
        var angles = kernels is null ? rope.At(positions) : default;

        var x = Weights.Embeddings.index_select(0, tokens);
        for (var l = 0; l < Weights.Layers.Count; l++)
        {
            // One scope per layer: a layer's intermediates are freed before the next layer allocates its own.
            using var layerScope = NewDisposeScope();
            var layer = Weights.Layers[l];
            var h = RmsNorm(x, layer.InputNorm);
            var qkv = F.linear(h, layer.Qkv, layer.QkvBias);
            Tensor q;
            if (kernels is not null)
                q = kernels.RopeQkv(qkv, rope.Cos, rope.Sin, positions, slots, cache.Keys[l], cache.Values[l]);
            else
            {
                var parts = qkv.split([_heads * _headDim, _kvHeads * _headDim, _kvHeads * _headDim], -1);
                q = RotaryEmbedding.Apply(parts[0].view(-1, _heads, _headDim), angles);
                var k = RotaryEmbedding.Apply(parts[1].view(-1, _kvHeads, _headDim), angles);
                var v = parts[2].view(-1, _kvHeads, _headDim);
                cache.Keys[l].index_copy_(0, slots, k);
                cache.Values[l].index_copy_(0, slots, v);
            }
            var attention = prefill is not null
                ? AttendPaged(q, cache.Keys[l], cache.Values[l], decode, decodeIndex, prefill)
                : Attend(q, cache.Keys[l], cache.Values[l], batch, single, decode, decodeIndex);
            x = x.Plus(F.linear(attention, layer.Output));
            var gateUp = F.linear(RmsNorm(x, layer.PostNorm), layer.GateUp).chunk(2, -1);
            x = x.Plus(F.linear(F.silu(gateUp[0]) * gateUp[1], layer.Down)).MoveToOuterDisposeScope();
        }

        var rows = batch.Sequences.Where(s => s.WantLogits).Select(s => (long)(s.QueryStart + s.QueryLength - 1)).ToArray();
        var last = x.index_select(0, tensor(rows, device: device));
        var logits = F.linear(RmsNorm(last, Weights.Norm), Weights.LmHead).to(ScalarType.Float32);
        return logits.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// A decode step with every input already on the device and nothing read back, so that it can be captured
    /// as a CUDA graph: one token per row, kernels for norm, RoPE with the cache write, and paged attention.
    /// Returns the final-normed hidden states [rows, hidden]; <see cref="Logits"/> makes logits of them (outside
    /// the graph, so graphs of every shape do not each hold a batch of vocabulary-wide outputs).
    /// </summary>
    public Tensor RunDecode(DecodeInputs inputs, PagedKvCache cache)
    {
        var k = kernels ?? throw new InvalidOperationException("decode graphs need the CUDA kernels");
        using var scope = NewDisposeScope();
        var x = Weights.Embeddings.index_select(0, inputs.Tokens);
        for (var l = 0; l < Weights.Layers.Count; l++)
        {
            using var layerScope = NewDisposeScope();
            var layer = Weights.Layers[l];
            var qkv = k.Linear(k.RmsNorm(x, layer.InputNorm, _eps), layer.Qkv, layer.QkvBias);
            var q = k.RopeQkv(qkv, rope.Cos, rope.Sin, inputs.Positions, inputs.Slots, cache.Keys[l], cache.Values[l]);
            var attention = k.PagedDecode(q, cache.Keys[l], cache.Values[l], inputs.Tables, inputs.Lengths, inputs.PartitionTokens, inputs.Partitions);
            // Residuals added by the matrix products themselves (beta = 1): no separate add kernels.
            k.AddLinear(x, attention, layer.Output);
            var gateUp = k.Linear(k.RmsNorm(x, layer.PostNorm, _eps), layer.GateUp);
            k.AddLinear(x, k.SiluMul(gateUp), layer.Down);
        }
        return k.RmsNorm(x, Weights.Norm, _eps).MoveToOuterDisposeScope();
    }

    /// <summary>Float32 logits [rows, vocabulary] of final-normed hidden states.</summary>
    public Tensor Logits(Tensor hidden)
    {
        using var scope = NewDisposeScope();
        return F.linear(hidden, Weights.LmHead).to(ScalarType.Float32).MoveToOuterDisposeScope();
    }

    /// <summary>Recomputes whole sequences without a cache: the reference the paged path must equal.</summary>
    public Tensor RunDense(long[] tokenIds)
    {
        using var scope = NewDisposeScope();
        var device = Weights.Device;
        var n = tokenIds.Length;
        var angles = rope.At(TorchOps.Arange(n, ScalarType.Int64, device));
        var x = Weights.Embeddings.index_select(0, tensor(tokenIds, device: device));
        foreach (var layer in Weights.Layers)
        {
            var qkv = F.linear(RmsNorm(x, layer.InputNorm), layer.Qkv, layer.QkvBias);
            var parts = qkv.split([_heads * _headDim, _kvHeads * _headDim, _kvHeads * _headDim], -1);
            var q = RotaryEmbedding.Apply(parts[0].view(n, _heads, _headDim), angles).transpose(0, 1).unsqueeze(0);
            var k = Repeat(RotaryEmbedding.Apply(parts[1].view(n, _kvHeads, _headDim), angles)).transpose(0, 1).unsqueeze(0);
            var v = Repeat(parts[2].view(n, _kvHeads, _headDim)).transpose(0, 1).unsqueeze(0);
            var o = F.scaled_dot_product_attention(q, k, v, is_casual: true).squeeze(0).transpose(0, 1).reshape(n, -1);
            x = x.Plus(F.linear(o, layer.Output));
            var gateUp = F.linear(RmsNorm(x, layer.PostNorm), layer.GateUp).chunk(2, -1);
            x = x.Plus(F.linear(F.silu(gateUp[0]) * gateUp[1], layer.Down));
        }
        return F.linear(RmsNorm(x, Weights.Norm), Weights.LmHead).to(ScalarType.Float32).MoveToOuterDisposeScope();
    }

    private static bool IsDecode(SequenceSlice s) => s.QueryLength == 1 && s.ContextLength > 1;

    /// <summary>
    /// Attention with the prefill kernel: the decoding group's rows land in one copy, then one launch attends every
    /// prefill chunk of the step in place over its block table (no gather, no mask, no per-length plan).
    /// </summary>
    private Tensor AttendPaged(Tensor q, Tensor keys, Tensor values, SequenceSlice[] decode, DecodeGroupIndex? decodeIndex, PrefillIndex prefill)
    {
        var decoded = decodeIndex is not null ? DecodeGroup(q, keys, values, decode, decodeIndex) : null;
        if (prefill.Count == 0)
            return decoded!;
        var output = empty([q.shape[0], _heads * _headDim], q.dtype, q.device);
        if (decoded is not null)
            output.index_copy_(0, decodeIndex!.Rows, decoded);
        kernels!.PagedPrefill(q, keys, values, prefill.Tiles, prefill.Count, prefill.Tables, output);
        return output;
    }

    /// <summary>
    /// The prefill kernel's work list: every non-decoding sequence cut into tiles of up to 64 new tokens, the tiles
    /// with the most keys first (so the longest finish soonest), and the sequences' block tables [sequences, blocks].
    /// </summary>
    private static PrefillIndex PrefillTiles(ForwardBatch batch, bool decodesApart, Device device, int blockSize)
    {
        var sequences = batch.Sequences.Where(s => !(decodesApart && IsDecode(s))).ToArray();
        if (sequences.Length == 0)
            return new PrefillIndex(0, empty(0, ScalarType.Int32, device: device), empty(0, ScalarType.Int64, device: device));
        var tiles = new List<(int Row, int Rows, int Position, int Sequence)>();
        for (var i = 0; i < sequences.Length; i++)
        {
            var s = sequences[i];
            var first = s.ContextLength - s.QueryLength;
            for (var t = 0; t < s.QueryLength; t += CudaKernels.PrefillTileRows)
                tiles.Add((s.QueryStart + t, Math.Min(CudaKernels.PrefillTileRows, s.QueryLength - t), first + t, i));
        }
        var flat = tiles.OrderByDescending(t => t.Position + t.Rows).SelectMany(t => new[] { t.Row, t.Rows, t.Position, t.Sequence }).ToArray();
        return new PrefillIndex(tiles.Count, tensor(flat, device: device).view(tiles.Count, 4), BlockTables(sequences, device, blockSize, out _));
    }

    /// <summary>
    /// The sequences' block tables [sequences, widest], int64, on the device, read off their context slots (a block's first
    /// slot over the block size); <paramref name="width"/> is the widest table's block count.
    /// </summary>
    private static Tensor BlockTables(SequenceSlice[] sequences, Device device, int blockSize, out int width)
    {
        var w = width = sequences.Max(s => (s.ContextLength + blockSize - 1) / blockSize);
        var tables = new long[sequences.Length * w];
        for (var i = 0; i < sequences.Length; i++)
        {
            for (var j = 0; j * blockSize < sequences[i].ContextLength; j++)
                tables[i * w + j] = sequences[i].ContextSlots[j * blockSize] / blockSize;
        }
        return tensor(tables, device: device).view(sequences.Length, w);
    }

    /// <summary>The prefill kernel's tiles (int32 [count, 4]) and block tables (int64 [sequences, blocks]).</summary>
    private sealed record PrefillIndex(int Count, Tensor Tiles, Tensor Tables);

    private Tensor Attend(Tensor q, Tensor keys, Tensor values, ForwardBatch batch, (Tensor Context, Tensor? Mask)[] single,
        SequenceSlice[] decode, DecodeGroupIndex? decodeIndex)
    {
        // The decoding group lands in one copy and each prefill chunk in its own rows: a constant number of
        // ops a layer, not one or two per sequence (at a batch of 64 these handles alone cost tens of ms a step).
        var decoded = decodeIndex is not null ? DecodeGroup(q, keys, values, decode, decodeIndex) : null;
        if (decoded is not null && decode.Length == batch.Sequences.Count)
            return decoded; // decodes only: one row each, in batch order
        var output = decoded is null ? null : empty([q.shape[0], _heads * _headDim], q.dtype, q.device).index_copy_(0, decodeIndex!.Rows, decoded);
        for (var i = 0; i < batch.Sequences.Count; i++)
        {
            var s = batch.Sequences[i];
            if (decoded is not null && IsDecode(s))
                continue;
            var k = Repeat(keys.index_select(0, single[i].Context)).transpose(0, 1).unsqueeze(0);
            var v = Repeat(values.index_select(0, single[i].Context)).transpose(0, 1).unsqueeze(0);
            var query = q.narrow(0, s.QueryStart, s.QueryLength).transpose(0, 1).unsqueeze(0);
            // A whole prompt from position 0 is plain causal attention, which lets the flash kernel run;
            // a later chunk needs the offset mask.
            var o = (single[i].Mask is null
                    ? F.scaled_dot_product_attention(query, k, v, is_casual: true)
                    : F.scaled_dot_product_attention(query, k, v, attn_mask: single[i].Mask))
                .squeeze(0).transpose(0, 1).reshape(s.QueryLength, -1);
            if (batch.Sequences.Count == 1)
                return o;
            output ??= empty([q.shape[0], _heads * _headDim], q.dtype, q.device);
            output.narrow(0, s.QueryStart, s.QueryLength).copy_(o);
        }
        return output!;
    }

    /// <summary>A sequence attended on its own: its context slots, and the causal mask of its new tokens over them.</summary>
    private static (Tensor Context, Tensor? Mask) SingleInputs(SequenceSlice s, Device device)
    {
        var offset = s.ContextLength - s.QueryLength;
        if (offset == 0)
            return (tensor(s.ContextSlots, device: device), null);
        var mask = new bool[s.QueryLength * s.ContextLength];
        for (var i = 0; i < s.QueryLength; i++)
            Array.Fill(mask, true, i * s.ContextLength, offset + i + 1);
        return (tensor(s.ContextSlots, device: device), tensor(mask, device: device).view(s.QueryLength, s.ContextLength));
    }

    /// <summary>
    /// All decoding sequences in one attention over their slots, padded to the longest. Query heads are
    /// grouped under their KV head and broadcast against it, so keys and values are gathered once and never
    /// repeated per query head.
    /// </summary>
    private Tensor DecodeGroup(Tensor q, Tensor keys, Tensor values, SequenceSlice[] decode, DecodeGroupIndex index)
    {
        var b = decode.Length;
        if (kernels is not null)
        {
            var tokens = (int)index.Length;
            var partitionTokens = kernels.PartitionTokens(b, tokens);
            var rows = q.index_select(0, index.Rows);
            return kernels.PagedDecode(rows, keys, values, index.Tables!, index.Lengths!, partitionTokens, (tokens + partitionTokens - 1) / partitionTokens);
        }
        var groups = _heads / _kvHeads;
        var query = q.index_select(0, index.Rows).view(b, _kvHeads, groups, 1, _headDim);                                     // [B, KVH, G, 1, D]
        var k = keys.index_select(0, index.Gather!).view(b, index.Length, _kvHeads, _headDim).permute(0, 2, 3, 1).unsqueeze(2); // [B, KVH, 1, D, L]
        var v = values.index_select(0, index.Gather!).view(b, index.Length, _kvHeads, _headDim).transpose(1, 2).unsqueeze(2);   // [B, KVH, 1, L, D]
        var scores = matmul(query, k) * _attentionScale;                                                     // [B, KVH, G, 1, L]
        scores = scores.masked_fill(index.Valid!.logical_not(), _minusInfinity);
        var probabilities = scores.to(ScalarType.Float32).softmax(-1).to(v.dtype);
        return matmul(probabilities, v).reshape(b, -1);                                                                   // [B, H·D]
    }

    /// <summary>
    /// The decode group's gather index and mask, or, with the kernels, its block tables [batch, blocks] and
    /// lengths [batch], the block count times the block size standing as the length.
    /// </summary>
    private DecodeGroupIndex DecodeIndex(SequenceSlice[] decode, Device device, int blockSize)
    {
        var rowsTensor = tensor(decode.Select(s => (long)s.QueryStart).ToArray(), device: device);
        if (kernels is not null)
        {
            var tables = BlockTables(decode, device, blockSize, out var width);
            return new DecodeGroupIndex(rowsTensor, (long)width * blockSize,
                Tables: tables, Lengths: tensor(decode.Select(s => (long)s.ContextLength).ToArray(), device: device));
        }
        var length = decode.Max(s => s.ContextLength);
        var index = new long[decode.Length * length];
        var mask = new bool[decode.Length * length];
        for (var i = 0; i < decode.Length; i++)
        {
            Array.Copy(decode[i].ContextSlots, 0, index, i * length, decode[i].ContextLength);
            Array.Fill(mask, true, i * length, decode[i].ContextLength);
        }
        return new DecodeGroupIndex(rowsTensor, length, Gather: tensor(index, device: device), Valid: tensor(mask, device: device).view(decode.Length, 1, 1, 1, length));
    }

    /// <summary>
    /// Where the decode group reads: its rows of the batch, the padded context length, and either a gather index
    /// [batch·length] with its validity mask (eager ops) or block tables [batch, blocks] with lengths [batch] (kernels).
    /// </summary>
    private sealed record DecodeGroupIndex(Tensor Rows, long Length, Tensor? Gather = null, Tensor? Valid = null, Tensor? Tables = null, Tensor? Lengths = null);

    /// <summary>Repeats KV heads to match query heads (grouped-query attention).</summary>
    private Tensor Repeat(Tensor kv) => _heads == _kvHeads ? kv : kv.repeat_interleave(_heads / _kvHeads, 1);

    private Tensor RmsNorm(Tensor x, Tensor weight)
    {
        if (kernels is not null)
            return kernels.RmsNorm(x, weight, _eps);
        var x32 = x.to(ScalarType.Float32);
        var normed = x32 * x32.Squared().mean([-1], keepdim: true).Plus(_epsScalar).rsqrt();
        return normed.to(x.dtype) * weight;
    }
}
