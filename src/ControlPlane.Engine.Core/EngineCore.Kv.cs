using ControlPlane.Engines;
using ControlPlane.Requests;
using ControlPlane.Transfer;

namespace ControlPlane.Engine.Core;

public partial class EngineCore
{
    private readonly Dictionary<string, PartialImport> _imports = new(StringComparer.Ordinal);

    public KvPart ExportKv(string requestId, KvBlockRange range) => ExportKv(requestId, range, onDevice: false);

    public KvPart ExportKv(string requestId, KvBlockRange range, bool onDevice)
    {
        if (!Scheduler.TryGet(requestId, out var request))
            throw new KeyNotFoundException($"request '{requestId}' is not in this engine");
        var computedBlocks = Scheduler.BlocksFor(request.ComputedTokens);
        var count = range.Count < 0 ? computedBlocks - range.First : range.Count;
        if (range.First < 0 || count < 0 || range.First + count > computedBlocks)
            throw new ArgumentOutOfRangeException(nameof(range), $"blocks {range.First}..{range.First + count} are outside the {computedBlocks} computed blocks of '{requestId}'");
        return Export(request, range.First, count, resume: range.First + count == computedBlocks, onDevice);
    }

    private KvPart Export(Requests.EngineRequest request, int first, int count, bool resume, bool onDevice)
    {
        var size = Descriptor.KvBlockSize;
        var firstToken = first * size;
        var endToken = Math.Min(request.ComputedTokens, (first + count) * size);
        var blocks = request.BlockTable.GetRange(first, count);
        var device = onDevice && count > 0 ? _runner.ReadBlocksOnDevice(blocks) : null;
        var payload = device is null ? _runner.ReadBlocks(blocks) : [];
        var header = Header(request.Id, first, count, request.Tokens(firstToken, endToken - firstToken), device?.Bytes ?? payload.Length) with
        {
            Resume = resume ? request.ToResumeState() : null,
        };
        return new KvPart(header, device is null ? payload : ReadOnlyMemory<byte>.Empty) { DeviceData = device };
    }

    /// <summary>The runner's device-to-device copy of a peer process's blocks; touches no engine state (any thread).</summary>
    public IKvDeviceData OpenDeviceHandle(KvDeviceHandle handle, int blocks) => _runner.OpenDeviceHandle(handle, blocks);

    public void ImportKv(RequestSpec request, KvPart part)
    {
        try
        {
            Import(request, part);
        }
        finally
        {
            // The import owns device data: written or refused, it is freed now, not when the collector gets to it.
            part.DeviceData?.Dispose();
        }
    }

    private void Import(RequestSpec request, KvPart part)
    {
        var header = part.Header;
        var layout = _runner.KvLayout;
        CheckFits(header, "KV stream");
        if (header.RequestId != request.RequestId)
            throw new InvalidDataException($"KV stream is for request '{header.RequestId}', not '{request.RequestId}'");
        if (Scheduler.Contains(request.RequestId))
            throw new EngineRejectedException($"request '{request.RequestId}' is already running in this engine");
        var bytes = part.DeviceData?.Bytes ?? part.Payload.Length;
        if (bytes != header.BlockCount * layout.BytesPerBlock)
            throw new InvalidDataException($"KV stream payload is {bytes} bytes, expected {header.BlockCount * layout.BytesPerBlock} for {header.BlockCount} blocks");
        var import = _imports.TryGetValue(request.RequestId, out var existing) ? existing : new PartialImport();
        if (header.FirstBlock != import.Blocks.Count)
        {
            DropImport(request.RequestId);
            throw new InvalidDataException($"KV stream starts at block {header.FirstBlock} but {import.Blocks.Count} blocks were imported so far");
        }
        _imports[request.RequestId] = import;
        for (var i = 0; i < header.BlockCount; i++)
        {
            if (!Pool.TryAllocate(out var block))
            {
                DropImport(request.RequestId);
                throw new EngineRejectedException($"no room for {header.BlockCount} imported KV blocks ({Pool.Available + i} free)");
            }
            import.Blocks.Add(block);
        }
        var targets = import.Blocks.GetRange(header.FirstBlock, header.BlockCount);
        if (part.DeviceData is { } device)
        {
            if (!_runner.WriteBlocksFromDevice(targets, device))
            {
                DropImport(request.RequestId);
                throw new InvalidDataException($"KV part on device '{device.Device}' cannot be written into this engine's cache");
            }
        }
        else
        {
            _runner.WriteBlocks(targets, part.Payload.Span);
        }
        import.Tokens.AddRange(header.TokenIds);
        if (header.Resume is { } resume)
            Resume(request, resume, import);
    }

    private void Resume(RequestSpec spec, ResumeState resume, PartialImport import)
    {
        _imports.Remove(spec.RequestId);
        var request = NewRequest(spec, resume.RandomSeed, resume.RandomDraws);
        request.OutputTokenIds.AddRange(resume.OutputTokenIds);
        if (import.Blocks.Count != Scheduler.BlocksFor(resume.ComputedTokens) || import.Tokens.Count != resume.ComputedTokens
            || !import.Tokens.SequenceEqual(request.Tokens(0, resume.ComputedTokens)))
        {
            foreach (var b in import.Blocks)
                Pool.Release(b);
            throw new InvalidDataException($"KV stream for '{spec.RequestId}' holds {import.Blocks.Count} blocks of {import.Tokens.Count} tokens, which are not the request's {resume.ComputedTokens} computed tokens");
        }
        request.BlockTable.AddRange(import.Blocks);
        request.ComputedTokens = resume.ComputedTokens;
        request.CachedPromptTokens = resume.CachedPromptTokens;
        request.NextOutputSequence = resume.NextOutputSequence;
        // The text and stop-string state are functions of the output tokens: replaying them rebuilds both exactly.
        foreach (var token in resume.OutputTokenIds)
            request.Stops.Append(request.Text.Add(token));
        Scheduler.NameFullBlocks(request);
        Scheduler.AddRunning(request);
    }

    /// <summary>A header for blocks of this engine: its model, layout and block size.</summary>
    private KvTransferHeader Header(string id, int first, int count, IReadOnlyList<int> tokens, long payloadBytes)
    {
        var layout = _runner.KvLayout;
        return new KvTransferHeader
        {
            RequestId = id,
            Model = Descriptor.Model,
            Layout = layout.Layout,
            DType = layout.DType,
            KvBlockSize = Descriptor.KvBlockSize,
            FirstBlock = first,
            BlockCount = count,
            TokenIds = tokens,
            PayloadBytes = payloadBytes,
        };
    }

    /// <summary>Refuses blocks of another model, layout, element type or block size than this engine's.</summary>
    private void CheckFits(KvTransferHeader header, string what)
    {
        var layout = _runner.KvLayout;
        if (header.Model != Descriptor.Model || header.Layout != layout.Layout || header.DType != layout.DType || header.KvBlockSize != Descriptor.KvBlockSize)
            throw new InvalidDataException($"{what} of model '{header.Model}', layout '{header.Layout}', {header.DType}, block size {header.KvBlockSize} does not fit this engine ('{Descriptor.Model}', '{layout.Layout}', {layout.DType}, {Descriptor.KvBlockSize})");
    }

    private bool DropImport(string requestId)
    {
        if (!_imports.Remove(requestId, out var import))
            return false;
        foreach (var block in import.Blocks)
            Pool.Release(block);
        return true;
    }

    /// <summary>The blocks and tokens of a request imported so far, before the part that completes it.</summary>
    private sealed class PartialImport
    {
        public List<int> Blocks { get; } = [];
        public List<int> Tokens { get; } = [];
    }
}
