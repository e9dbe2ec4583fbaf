using ControlPlane.Engines;
using ControlPlane.Requests;
using static TorchSharp.torch;

namespace ControlPlane.Engine;

public sealed partial class TorchEngine
{
    private readonly Dictionary<string, (List<int> Blocks, int Tokens)> _imports = new(StringComparer.Ordinal);

    /// <summary>Layout of block data: layer-major, keys then values, each block's slots in order.</summary>
    private string Layout => $"paged/l{_cache.Keys.Count}/kvh{_cache.KvHeads}/d{_cache.HeadDim}/layer-major,k-then-v";

    public void ExportKv(string requestId, KvBlockRange range, Stream destination)
    {
        if (!_byId.TryGetValue(requestId, out var sequence))
            throw new KeyNotFoundException($"request '{requestId}' is not in this engine");
        var computedBlocks = BlocksFor(sequence.ComputedTokens);
        var count = range.Count < 0 ? computedBlocks - range.First : range.Count;
        if (range.First < 0 || count < 0 || range.First + count > computedBlocks)
            throw new ArgumentOutOfRangeException(nameof(range), $"blocks {range.First}..{range.First + count} are outside the {computedBlocks} computed blocks of '{requestId}'");
        using var scope = NewDisposeScope();
        var slots = SlotsOf(sequence.BlockTable.Skip(range.First).Take(count));
        var parts = new List<Tensor>();
        for (var l = 0; l < _cache.Keys.Count; l++)
        {
            parts.Add(_cache.Keys[l].index_select(0, slots));
            parts.Add(_cache.Values[l].index_select(0, slots));
        }
        using var payload = cat(parts, 0).cpu().contiguous();
        KvTransferFormat.WriteHeader(destination, new KvTransferHeader
        {
            RequestId = requestId,
            Model = Descriptor.Model,
            Layout = Layout,
            DType = _cache.DType.ToString(),
            KvBlockSize = BlockSize,
            TokenIds = sequence.Tokens(0, sequence.ContextTokens),
            PromptTokenCount = sequence.PromptTokens,
            FirstBlock = range.First,
            BlockCount = count,
            Completes = range.First + count == computedBlocks,
            PayloadBytes = payload.NumberOfElements * payload.ElementSize,
        });
        destination.Write(payload.bytes);
    }

    public void ImportKv(RequestSpec request, Stream source)
    {
        var header = KvTransferFormat.ReadHeader(source);
        if (header.Model != Descriptor.Model || header.Layout != Layout || header.DType != _cache.DType.ToString() || header.KvBlockSize != BlockSize)
            throw new InvalidDataException($"KV stream of model '{header.Model}', layout '{header.Layout}', {header.DType}, block size {header.KvBlockSize} does not fit this engine ('{Descriptor.Model}', '{Layout}', {_cache.DType}, {BlockSize})");
        if (header.RequestId != request.RequestId)
            throw new InvalidDataException($"KV stream is for request '{header.RequestId}', not '{request.RequestId}'");
        if (_byId.ContainsKey(request.RequestId))
            throw new EngineRejectedException($"request '{request.RequestId}' is already running in this engine");
        var import = _imports.TryGetValue(request.RequestId, out var existing) ? existing : (Blocks: new List<int>(), Tokens: 0);
        if (header.FirstBlock != import.Blocks.Count)
            throw new InvalidDataException($"KV stream starts at block {header.FirstBlock} but {import.Blocks.Count} blocks were imported so far");
        var payload = new byte[header.PayloadBytes];
        source.ReadExactly(payload);
        var blocks = new List<int>();
        for (var i = 0; i < header.BlockCount; i++)
        {
            if (!_pool.TryAllocate(out var block))
            {
                foreach (var b in blocks.Concat(import.Blocks))
                    _pool.Release(b);
                _imports.Remove(request.RequestId);
                throw new EngineRejectedException($"no room for {header.BlockCount} imported KV blocks ({_pool.Available} free)");
            }
            blocks.Add(block);
        }
        using (var scope = NewDisposeScope())
        {
            var slots = SlotsOf(blocks);
            var rows = blocks.Count * BlockSize;
            var data = empty([2L * _cache.Keys.Count * rows, _cache.KvHeads, _cache.HeadDim], _cache.DType);
            if (data.NumberOfElements * data.ElementSize != payload.Length)
                throw new InvalidDataException($"KV stream payload is {payload.Length} bytes, expected {data.NumberOfElements * data.ElementSize} for {blocks.Count} blocks");
            payload.CopyTo(data.bytes);
            var device = data.to(_cache.Keys[0].device);
            for (var l = 0; l < _cache.Keys.Count; l++)
            {
                _cache.Keys[l].index_copy_(0, slots, device.narrow(0, 2L * l * rows, rows));
                _cache.Values[l].index_copy_(0, slots, device.narrow(0, (2L * l + 1) * rows, rows));
            }
        }
        import.Blocks.AddRange(blocks);
        _imports[request.RequestId] = import;
        if (!header.Completes)
            return;

        _imports.Remove(request.RequestId);
        if (import.Blocks.Count != BlocksFor(header.TokenIds.Count - 1))
        {
            foreach (var b in import.Blocks)
                _pool.Release(b);
            throw new InvalidDataException($"KV stream for '{request.RequestId}' holds {import.Blocks.Count} blocks; its {header.TokenIds.Count - 1} computed tokens need {BlocksFor(header.TokenIds.Count - 1)}");
        }
        var sequence = new TorchSequence(request, RandomFor(request), _arrivals++, _tokenizer);
        sequence.OutputTokenIds.AddRange(header.TokenIds.Skip(header.PromptTokenCount));
        sequence.BlockTable.AddRange(import.Blocks);
        // Every token but the newest has its keys and values in the imported blocks.
        sequence.ComputedTokens = header.TokenIds.Count - 1;
        foreach (var t in sequence.OutputTokenIds)
            sequence.Detokenizer.Add(t);
        _byId.Add(request.RequestId, sequence);
        _running.Add(sequence);
    }

    private bool DropImport(string requestId)
    {
        if (!_imports.Remove(requestId, out var import))
            return false;
        foreach (var block in import.Blocks)
            _pool.Release(block);
        return true;
    }

    private Tensor SlotsOf(IEnumerable<int> blocks)
    {
        var slots = blocks.SelectMany(b => Enumerable.Range(0, BlockSize).Select(i => (long)b * BlockSize + i)).ToArray();
        return tensor(slots, device: _cache.Keys[0].device);
    }
}
