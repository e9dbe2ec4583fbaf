using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;
using ControlPlane.Engine.Loading;
using ControlPlane.Grains.Engines;
using ControlPlane.Grains.Transfer;
using ControlPlane.Requests;
using ControlPlane.Scheduling.Migration;
using ControlPlane.Tokens;
using ControlPlane.Transfer;
using Microsoft.Extensions.Logging.Abstractions;
using TorchSharp;
using static TorchSharp.torch;

namespace ControlPlane.Engine.Benchmarks;

/// <summary>The destination engine in its own process, and the source's handle on it (migration and handoff benchmarks).</summary>
internal static partial class MigrationBenchmark
{
    /// <summary>
    /// The destination process: an engine runner and the worker's KV endpoint (the production listener), ordered over
    /// stdin by the source process (begin, holds, cancel, abort, first): what the instance grain's calls do between workers.
    /// </summary>
    public static async Task PeerAsync(Dictionary<string, string> options)
    {
        var onCuda = options.GetValueOrDefault("--device", "cuda") == "cuda";
        if (onCuda)
            torch.InitializeDeviceType(DeviceType.CUDA);
        using var weights = ModelFolder.Load(options["--model"], onCuda ? CUDA : CPU, ScalarType.BFloat16);
        var runner = Runner("peer", weights, int.Parse(options["--kv-blocks"], CultureInfo.InvariantCulture), int.Parse(options["--max-context"], CultureInfo.InvariantCulture),
            onCuda, new MigrationConfig { StageBlocks = int.Parse(options["--stage-blocks"], CultureInfo.InvariantCulture) });
        var sink = new TimingSink();
        // Prefix parts (a peer fetch) go into the cache; the others are a migration's or a handoff's.
        await using var listener = new KvStreamListener((part, _) => part.Header.PrefixParentHash is null
            ? new ValueTask(runner.ImportAsync(part)) : new ValueTask(runner.ImportPrefixAsync(part)), NullLogger<KvStreamListener>.Instance);
        listener.Start(IPAddress.Loopback, 0);
        Console.WriteLine($"ready {listener.Port}");
        while (Console.ReadLine() is { } line)
        {
            var (verb, rest) = (line.Split(' ', 2)[0], line.Contains(' ', StringComparison.Ordinal) ? line.Split(' ', 2)[1] : "");
            switch (verb)
            {
                case "begin":
                    var parts = rest.Split(' ', 2);
                    var spec = JsonSerializer.Deserialize<RequestSpec>(parts[1])!;
                    var refusal = await runner.BeginIncomingAsync(spec, sink, int.Parse(parts[0], CultureInfo.InvariantCulture));
                    Console.WriteLine(refusal is null ? "ok" : "refused " + refusal.ReplaceLineEndings(" "));
                    break;
                case "admit":
                    runner.Admit(JsonSerializer.Deserialize<RequestSpec>(rest)!, sink);
                    Console.WriteLine("ok");
                    break;
                case "holds":
                    Console.WriteLine(await runner.HoldsAsync(rest) ? "true" : "false");
                    break;
                case "cancel":
                    await runner.CancelIncomingAsync(rest);
                    Console.WriteLine("ok");
                    break;
                case "abort":
                    await runner.AbortAsync(rest);
                    Console.WriteLine("ok");
                    break;
                case "first":
                    var first = sink.Of(rest).Select(c => c.At).DefaultIfEmpty(0).Min();
                    Console.WriteLine(first.ToString(CultureInfo.InvariantCulture));
                    break;
                case "quit":
                    await runner.DisposeAsync();
                    return;
            }
        }
    }

    /// <summary>The source's handle on the destination process: orders over its stdin, parts over the KV stream.</summary>
    internal sealed class PeerTarget : IMigrationTarget
    {
        private readonly Process _process;
        private readonly int _port;
        private readonly bool _devicePath;
        private readonly SemaphoreSlim _gate = new(1);
        private KvStreamSender? _sender;

        private PeerTarget(Process process, int port, bool devicePath)
        {
            _process = process;
            _port = port;
            _devicePath = devicePath;
        }

        public string InstanceId => "peer";
        public bool DeviceParts => _devicePath && DevicePathRefusal is null && _sender?.DevicePath != KvDevicePath.No;

        /// <summary>Its sender copies device parts to pooled host buffers when they cannot go as handles.</summary>
        public bool CopiesDeviceParts => true;

        /// <summary>Why the destination could not open a device handle, if it could not.</summary>
        public string? DevicePathRefusal { get; private set; }

        /// <summary>
        /// Starts the destination process. <paramref name="devicePath"/>: parts on the GPU go as CUDA IPC handles (false: as
        /// bytes over the KV stream); <paramref name="gpu"/>: the host GPU it runs on (first in its CUDA_VISIBLE_DEVICES), null: as this process.
        /// </summary>
        public static async Task<PeerTarget> StartAsync(string folder, bool onCuda, int kvBlocks, int maxContext, int stageBlocks, bool devicePath = false, int? gpu = null)
        {
            var start = new ProcessStartInfo("dotnet", [typeof(MigrationBenchmark).Assembly.Location, "migration-peer", "--model", folder,
                "--device", onCuda ? "cuda" : "cpu", "--kv-blocks", kvBlocks.ToString(CultureInfo.InvariantCulture),
                "--max-context", maxContext.ToString(CultureInfo.InvariantCulture), "--stage-blocks", stageBlocks.ToString(CultureInfo.InvariantCulture)])
            {
                RedirectStandardInput = true, RedirectStandardOutput = true,
            };
            if (gpu is { } index)
                start.Environment["CUDA_VISIBLE_DEVICES"] = ControlPlane.Engine.Cuda.GpuPinning.VisibleDevices(index, Environment.GetEnvironmentVariable("CUDA_VISIBLE_DEVICES"));
            var process = Process.Start(start)!;
            string? line;
            while ((line = await process.StandardOutput.ReadLineAsync()) is not null && !line.StartsWith("ready ", StringComparison.Ordinal))
            {
            }
            if (line is null)
                throw new InvalidOperationException("the destination process ended before it was ready");
            return new PeerTarget(process, int.Parse(line[6..], CultureInfo.InvariantCulture), devicePath);
        }

        private async Task<string> AskAsync(string command)
        {
            await _gate.WaitAsync();
            try
            {
                await _process.StandardInput.WriteLineAsync(command);
                await _process.StandardInput.FlushAsync();
                return await _process.StandardOutput.ReadLineAsync() ?? throw new IOException("the destination process ended");
            }
            finally
            {
                _gate.Release();
            }
        }

        public async Task BeginAsync(RequestSpec request, ITokenSink sink, int blocks, CancellationToken cancellationToken)
        {
            var answer = await AskAsync($"begin {blocks} {JsonSerializer.Serialize(request)}");
            if (answer != "ok")
                throw new MigrationRefusedException(answer);
            if (_sender is not null)
                await _sender.DisposeAsync();
            _sender = await KvStreamSender.ConnectAsync("127.0.0.1", _port, cancellationToken, _devicePath);
        }

        public async Task SendAsync(KvPart part, CancellationToken cancellationToken)
        {
            var refusal = await _sender!.SendOneAsync(part, cancellationToken);
            DevicePathRefusal ??= _sender.DevicePathRefusal;
            if (refusal is not null)
                throw new MigrationRefusedException(refusal);
        }

        public async Task<string> CommitAsync(KvPart last, CancellationToken cancellationToken)
        {
            await SendAsync(last, cancellationToken);
            return "peer";
        }

        public async Task<bool> HoldsAsync(string requestId, CancellationToken cancellationToken) => await AskAsync($"holds {requestId}") == "true";

        public Task CancelAsync(string requestId) => AskAsync($"cancel {requestId}");

        public Task AbortAsync(string requestId) => AskAsync($"abort {requestId}");

        /// <summary>Admits a request on the destination process (a prefix benchmark's request, after its blocks went over).</summary>
        public async Task AdmitAsync(RequestSpec request)
        {
            if (await AskAsync($"admit {JsonSerializer.Serialize(request)}") != "ok")
                throw new InvalidOperationException($"the destination process did not admit {request.RequestId}");
        }

        /// <summary>Sends a prefix part to the destination's KV endpoint on a connection of its own.</summary>
        public async Task SendPrefixAsync(KvPart part, CancellationToken cancellationToken)
        {
            await using var sender = await KvStreamSender.ConnectAsync("127.0.0.1", _port, cancellationToken, _devicePath && DevicePathRefusal is null);
            var refusal = await sender.SendOneAsync(part, cancellationToken);
            DevicePathRefusal ??= sender.DevicePathRefusal;
            if (refusal is not null)
                throw new InvalidOperationException($"the destination refused the prefix: {refusal}");
        }

        public async Task<long> FirstTokenAsync(string requestId) => long.Parse(await AskAsync($"first {requestId}"), CultureInfo.InvariantCulture);

        public async ValueTask DisposeAsync()
        {
            if (_sender is not null)
                await _sender.DisposeAsync();
            try
            {
                await _process.StandardInput.WriteLineAsync("quit");
                await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
            }
            catch (Exception)
            {
                _process.Kill();
            }
            _process.Dispose();
            _gate.Dispose();
        }
    }
}
