using System.Buffers.Binary;
using ControlPlane.Engines;
using ControlPlane.Requests;

namespace ControlPlane.Simulation.Engine;

public sealed partial class SimulatedEngine
{
    private readonly Dictionary<string, List<int>> _imports = new(StringComparer.Ordinal);

    /// <summary>
    /// Simulated blocks hold no keys or values; their payload is the token ids they cover (4 bytes each), so
    /// a transfer still moves, checks and accounts for real blocks.
    /// </summary>
    public void ExportKv(string requestId, KvBlockRange range, Stream destination)
    {
        if (!_byId.TryGetValue(requestId, out var sequence))
            throw new KeyNotFoundException($"request '{requestId}' is not in this engine");
        var computedBlocks = sequence.BlocksFor(sequence.ComputedTokens, BlockSize);
        var count = range.Count < 0 ? computedBlocks - range.First : range.Count;
        if (range.First < 0 || count < 0 || range.First + count > computedBlocks)
            throw new ArgumentOutOfRangeException(nameof(range), $"blocks {range.First}..{range.First + count} are outside the {computedBlocks} computed blocks of '{requestId}'");
        var firstToken = range.First * BlockSize;
        var endToken = Math.Min(sequence.ComputedTokens, (range.First + count) * BlockSize);
        var tokens = new int[sequence.ContextTokens];
        for (var i = 0; i < tokens.Length; i++)
            tokens[i] = sequence.TokenAt(i);
        KvTransferFormat.WriteHeader(destination, new KvTransferHeader
        {
            RequestId = requestId,
            Model = Descriptor.Model,
            Layout = KvLayout,
            DType = "int32",
            KvBlockSize = BlockSize,
            TokenIds = tokens,
            PromptTokenCount = sequence.PromptTokens,
            FirstBlock = range.First,
            BlockCount = count,
            Completes = range.First + count == computedBlocks,
            PayloadBytes = (endToken - firstToken) * 4L,
        });
        Span<byte> word = stackalloc byte[4];
        for (var i = firstToken; i < endToken; i++)
        {
            BinaryPrimitives.WriteInt32LittleEndian(word, tokens[i]);
            destination.Write(word);
        }
    }

    public void ImportKv(RequestSpec request, Stream source)
    {
        var header = KvTransferFormat.ReadHeader(source);
        if (header.Model != Descriptor.Model || header.Layout != KvLayout || header.KvBlockSize != BlockSize)
            throw new InvalidDataException($"KV stream of model '{header.Model}', layout '{header.Layout}', block size {header.KvBlockSize} does not fit this engine ('{Descriptor.Model}', '{KvLayout}', {BlockSize})");
        if (header.RequestId != request.RequestId)
            throw new InvalidDataException($"KV stream is for request '{header.RequestId}', not '{request.RequestId}'");
        if (_byId.ContainsKey(request.RequestId))
            throw new EngineRejectedException($"request '{request.RequestId}' is already running in this engine");
        var imported = _imports.TryGetValue(request.RequestId, out var list) ? list : _imports[request.RequestId] = [];
        if (header.FirstBlock * BlockSize != imported.Count)
            throw new InvalidDataException($"KV stream starts at block {header.FirstBlock} but {imported.Count} tokens were imported so far");
        var payload = new byte[header.PayloadBytes];
        source.ReadExactly(payload);
        var blocks = (int)((header.PayloadBytes / 4 + BlockSize - 1) / BlockSize);
        if (!_blocks.TryTake(blocks))
        {
            DropImport(request.RequestId);
            throw new EngineRejectedException($"no room for {blocks} imported KV blocks ({_blocks.Free} free)");
        }
        for (var i = 0; i < payload.Length; i += 4)
            imported.Add(BinaryPrimitives.ReadInt32LittleEndian(payload.AsSpan(i)));
        if (!header.Completes)
            return;

        _imports.Remove(request.RequestId);
        var sequence = new SimulatedSequence(request, RandomFor(request), _arrivals++)
        {
            ComputedTokens = imported.Count,
            HeldBlocks = (imported.Count + BlockSize - 1) / BlockSize,
        };
        sequence.OutputTokenIds.AddRange(header.TokenIds.Skip(header.PromptTokenCount));
        _byId.Add(request.RequestId, sequence);
        _running.Add(sequence);
    }

    private void DropImport(string requestId)
    {
        if (_imports.Remove(requestId, out var tokens))
            _blocks.Release((tokens.Count + BlockSize - 1) / BlockSize);
    }
}
