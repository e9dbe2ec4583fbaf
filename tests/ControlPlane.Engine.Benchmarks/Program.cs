using System.Diagnostics;
using System.Text.Json;
using ControlPlane.Engine;
using ControlPlane.Engine.Benchmarks;
using ControlPlane.Engine.Loading;
using ControlPlane.Engine.Model;
using ControlPlane.Requests;
using TorchSharp;
using static TorchSharp.torch;

// Usage:
//   bench  --model DIR --device cuda --out FILE   decode (batch 1/8/32/64 × context 512/2048) and prefill (1×2048, 8×512) throughput
//   greedy --model DIR --device cuda --prompt 1,2,3 --tokens 64 --out FILE [--tuning K=V,...]   greedy token ids, fp32, for the transformers check
//   modes  --model DIR --device cuda --out FILE   the same batch (chunked prefill, then decode) under eager ops, the kernels,
//          and decode graphs: greedy tokens must agree across the three, and alone with batched
//   steps --model DIR --device cuda --log STEPLOG [--max 400]   a served run's steps with prefill (CONTROLPLANE_STEP_LOG) as fixed shapes
//   prefill-attention --model DIR --device cuda --out FILE   the paged prefill kernel beside gather + SDPA: error and time
//   attention --model DIR --device cuda --out FILE [--two-kernels yes]   the decode attention kernels alone by partition size,
//          each against fp32 (DecodeAttentionBenchmark)
//   skinny-gemm --model DIR --device cuda --out FILE [--rows 1,16,32,64]   our skinny product kernel beside libtorch's for
//          the decode products: error and time by rows, block size and k split (SkinnyGemmBenchmark)
//   decode-parts --model DIR --device cuda --out FILE [--batch 1,32,64] [--context 512,2048] [--tuning K=V,...]
//          each part of a decode step alone over every layer: time, bytes per second, share of the bound
//   Options: --kernels off, --graphs off, --prefill-kernel off, --decode-tc off, --tuning K=V,... (kernel constants) (default: all on where the device allows); for bench, --batch N and
//   --context N run one decode shape, --steps N decode steps to time (32), --no-prefill skips prefill (for a profiler),
//   --prefill-repeat N repeats the prefill shapes (long enough windows to read power draw).
//   stage-tiering [batch] [blocks] [gpu-step-ms]   a decode step's input staging (DecodeGraphs.Stage) by call, from the
//          first, with a sleep for the GPU's step (32 64 7); no GPU (StageTieringBenchmark)
//   step-overhead [--tokenizer DIR] [--batch 1,32,64,256] [--steps 2000] [--context 512]   the engine's host time a decode
//          step with a runner that answers at once (what the GPU waits through between steps); no GPU (StepOverheadBenchmark)
//   nvml [seconds]   the GPU's draw read through NvmlPowerActuator (read only), every 200 ms
//   kv-path [blocks-per-part] [parts] [cuda|cpu] [peer-gpu]   the KV data path between two processes (bytes and CUDA IPC), beside its bounds
//   migration --model DIR [--contexts 1024,4096,16384,32768] [--background 8] [--modes local,peer] [--stage-blocks 64]
//             live migration downtime and the slowdown of the source's other requests (MigrationBenchmark)
//   prefix --model DIR [--tokens 32768] [--repeats 3]
//             a long prompt's TTFT computed, reloaded from the host tier, fetched from another process (PrefixCacheBenchmark)
//   handoff --model DIR [--prompts 1024,4096,16384] [--max-batched 2048] [--repeats 3]
//             prefill/decode handoff between two processes: its cost to TTFT and to the second token (HandoffBenchmark)
if (args[0] == "step-overhead")
{
    string? Option(string key) => Array.IndexOf(args, key) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    int[] Ints(string? text, int[] fallback) => text is null ? fallback : [.. text.Split(',').Select(t => int.Parse(t, System.Globalization.CultureInfo.InvariantCulture))];
    StepOverheadBenchmark.Run(Option("--tokenizer"), Ints(Option("--batch"), [1, 32, 64, 256]), Ints(Option("--steps"), [2000])[0], Ints(Option("--context"), [512])[0]);
    return 0;
}

if (args[0] == "stage-tiering")
{
    int Arg(int i, int fallback) => args.Length > i ? int.Parse(args[i], System.Globalization.CultureInfo.InvariantCulture) : fallback;
    StageTieringBenchmark.Run(Arg(1, 32), Arg(2, 64), Arg(3, 7));
    return 0;
}
if (args[0] == "nvml")
{
    // Read only: the board's limits and its draw through NvmlPowerActuator, every 200 ms for the seconds given (no cap is set).
    var nvml = ControlPlane.Engine.Cuda.NvmlPowerActuator.Open(0);
    Console.WriteLine(FormattableString.Invariant($"nvml: default limit {nvml.MaxWatts:0} W"));
    var seconds = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 5;
    for (var t = 0; t < seconds * 5; t++)
    {
        Thread.Sleep(200);
        Console.WriteLine(FormattableString.Invariant($"nvml {DateTimeOffset.UtcNow:HH:mm:ss.fff} draw {nvml.ReadDrawWatts():0.0} W"));
    }
    return 0;
}
if (args[0] == "kv-path")
{
    await KvPathBenchmark.RunAsync(args);
    return 0;
}
if (args[0] == "prefix")
{
    await PrefixCacheBenchmark.RunAsync(args.Skip(1).Chunk(2).ToDictionary(p => p[0], p => p.Length > 1 ? p[1] : ""));
    return 0;
}
if (args[0] == "handoff")
{
    await HandoffBenchmark.RunAsync(args.Skip(1).Chunk(2).ToDictionary(p => p[0], p => p.Length > 1 ? p[1] : ""));
    return 0;
}
if (args[0] is "migration" or "migration-peer")
{
    var migrationOptions = args.Skip(1).Chunk(2).ToDictionary(p => p[0], p => p.Length > 1 ? p[1] : "");
    if (args[0] == "migration")
        await MigrationBenchmark.RunAsync(migrationOptions);
    else
        await MigrationBenchmark.PeerAsync(migrationOptions);
    return 0;
}
if (args[0] == "kv-path-receive")
{
    await KvPathBenchmark.ReceiveAsync(args);
    return 0;
}
var options = args.Skip(1).Chunk(2).ToDictionary(p => p[0], p => p.Length > 1 ? p[1] : "");
var deviceName = options.GetValueOrDefault("--device", "cpu");
if (deviceName == "cuda")
    InitializeDeviceType(DeviceType.CUDA);
var device = deviceName == "cuda" ? CUDA : CPU;
var output = options.GetValueOrDefault("--out", "result.json");
var folder = options["--model"];
var kernelsOn = options.GetValueOrDefault("--kernels", "on") != "off";
var graphsOn = options.GetValueOrDefault("--graphs", "on") != "off";
var prefillKernelOn = options.GetValueOrDefault("--prefill-kernel", "on") != "off";
var decodeTcOn = options.GetValueOrDefault("--decode-tc", "on") != "off";
var kernelTuning = options.TryGetValue("--tuning", out var tuningOption)
    ? tuningOption.Split(',').Select(p => p.Split('=')).ToDictionary(p => p[0], p => int.Parse(p[1], System.Globalization.CultureInfo.InvariantCulture))
    : null;

if (args[0] == "steps")
{
    var lines = StepReplayBenchmark.Run(folder, options["--log"], device, int.Parse(options.GetValueOrDefault("--max", "400"), System.Globalization.CultureInfo.InvariantCulture), prefillKernelOn);
    File.WriteAllLines(output, lines);
    return 0;
}

if (args[0] == "prefill-attention")
{
    var lines = PrefillAttentionBenchmark.Run(ControlPlane.Models.Folders.ModelFolderInfo.Read(folder).Config, device);
    File.WriteAllLines(output, lines);
    return 0;
}

if (args[0] == "skinny-gemm")
{
    int[] rowCounts = options.TryGetValue("--rows", out var rc) ? [.. rc.Split(',').Select(int.Parse)] : [1, 16, 32, 64];
    var lines = SkinnyGemmBenchmark.Run(ControlPlane.Models.Folders.ModelFolderInfo.Read(folder).Config, device, rowCounts);
    File.WriteAllLines(output, lines);
    return 0;
}

if (args[0] == "attention")
{
    var lines = DecodeAttentionBenchmark.Run(ControlPlane.Models.Folders.ModelFolderInfo.Read(folder).Config, device, options.ContainsKey("--two-kernels"));
    File.WriteAllLines(output, lines);
    return 0;
}

if (args[0] == "modes")
{
    using var weights = ModelFolder.Load(folder, device, ScalarType.Float32);
    int[] lengths = [5, 17, 33, 64, 130, 300];
    var prompts = lengths.Select(n => Enumerable.Range(0, n).Select(i => (i * 7919 + n) % (weights.Config.VocabularySize - 10) + 5).ToArray()).ToArray();
    var report = new Dictionary<string, object>();
    // --tuning applies to every run with kernels; with PDL=1 the bf16 run is made again with PDL=0: launch order alone
    // must not change a token (run it with PARTITION_TUNE=0, so both take the same partitions).
    // set: one tuning key overridden for this run (PDL=0 to compare against PDL=1).
    List<int>[] Generate(bool kernels, bool graphs, int[][] batch, out string acceleration, LlamaWeights? model = null, bool prefillKernel = false, bool decodeTc = true, (string Key, int Value)? set = null)
    {
        using var engine = new TorchEngine("m", model ?? weights, new IdTokenizer(weights.Config.VocabularySize),
            new TorchEngineOptions { KvBlocks = 512, MaxContextTokens = 2048, MaxBatchedTokens = 96, CudaKernels = kernels, CudaGraphs = graphs, PrefillKernel = prefillKernel, TensorCoreDecode = decodeTc,
                KernelTuning = set is { } one ? new Dictionary<string, int>(kernelTuning ?? new Dictionary<string, int>()) { [one.Key] = one.Value } : kernelTuning });
        acceleration = engine.Acceleration;
        for (var i = 0; i < batch.Length; i++)
            engine.Add(new RequestSpec { RequestId = $"r{i}", Model = "m", PromptTokenIds = batch[i], Sampling = new SamplingParameters { MaxTokens = 48, Temperature = 0, IgnoreEndOfSequence = true } });
        var tokens = batch.Select(_ => new List<int>()).ToArray();
        while (engine.HasWork)
        {
            foreach (var o in engine.ComputeStep().Outputs)
                tokens[int.Parse(o.RequestId[1..], System.Globalization.CultureInfo.InvariantCulture)].AddRange(o.NewTokenIds);
        }
        return tokens;
    }
    var eager = Generate(false, false, prompts, out var a0);
    var kernels = Generate(true, false, prompts, out var a1);
    var graphs = Generate(true, true, prompts, out var a2);
    var alone = prompts.Select((p, i) => Generate(true, true, [p], out _)[0]).ToArray();
    int Same(List<int>[] x, List<int>[] y) => x.Zip(y).Sum(p => p.First.Zip(p.Second).TakeWhile(t => t.First == t.Second).Count());
    var total = eager.Sum(t => t.Count);
    report["accelerations"] = new[] { a0, a1, a2 };
    report["tokens"] = total;
    report["kernelsEqualEager"] = Same(kernels, eager);
    report["graphsEqualEager"] = Same(graphs, eager);
    report["aloneEqualBatched"] = Same(alone, graphs);
    if (device.type == DeviceType.CUDA)
    {
        // The prefill kernel runs on bf16 only: the same batch in bf16 with it and with gather + SDPA for prefill chunks.
        using var half = ModelFolder.Load(folder, device, ScalarType.BFloat16);
        var withKernel = Generate(true, true, prompts, out var a3, half, prefillKernel: true);
        var withSdpa = Generate(true, true, prompts, out var a4, half);
        report["bf16Accelerations"] = new[] { a3, a4 };
        report["bf16Tokens"] = withSdpa.Sum(t => t.Count);
        report["bf16PrefillKernelEqualSdpa"] = Same(withKernel, withSdpa);
        // Decode attention on tensor cores against the scalar kernel (P rounded to bf16 before P·V, as FlashAttention does).
        var scalarDecode = Generate(true, true, prompts, out var a5, half, prefillKernel: true, decodeTc: false);
        report["bf16Accelerations"] = new[] { a3, a4, a5 };
        report["bf16DecodeTensorCoresEqualScalar"] = Same(withKernel, scalarDecode);
        if (kernelTuning?.GetValueOrDefault("PDL") == 1)
        {
            report["tuning"] = string.Join(",", kernelTuning.Select(t => $"{t.Key}={t.Value}"));
            report["bf16PdlEqualWithout"] = Same(withKernel, Generate(true, true, prompts, out _, half, prefillKernel: true, set: ("PDL", 0)));
        }
    }
    File.WriteAllText(output, JsonSerializer.Serialize(report));
    Console.WriteLine(JsonSerializer.Serialize(report));
    return 0;
}

void Sync()
{
    if (device.type == DeviceType.CUDA)
        cuda.synchronize();
}

if (args[0] == "greedy")
{
    using var weights = ModelFolder.Load(folder, device, ScalarType.Float32);
    using var engine = new TorchEngine("m", weights, new IdTokenizer(weights.Config.VocabularySize), new TorchEngineOptions { KvBlocks = 512, MaxContextTokens = 2048, CudaKernels = kernelsOn, CudaGraphs = graphsOn, KernelTuning = kernelTuning });
    Console.WriteLine($"acceleration: {engine.Acceleration}");
    var prompt = options["--prompt"].Split(',').Select(int.Parse).ToArray();
    engine.Add(new RequestSpec { RequestId = "g", Model = "m", PromptTokenIds = prompt, Sampling = new SamplingParameters { MaxTokens = int.Parse(options["--tokens"]), Temperature = 0, IgnoreEndOfSequence = true } });
    var tokens = new List<int>();
    while (engine.HasWork)
        tokens.AddRange(engine.ComputeStep().Outputs.SelectMany(o => o.NewTokenIds));
    File.WriteAllText(output, JsonSerializer.Serialize(new { tokens }));
    Console.WriteLine($"greedy: {string.Join(',', tokens)}");
    return 0;
}

var clock = Stopwatch.StartNew();
using var model = ModelFolder.Load(folder, device, ScalarType.BFloat16);
Sync();
var loadSeconds = clock.Elapsed.TotalSeconds;
Console.WriteLine($"loaded {folder} in {loadSeconds:F1} s");
var results = new List<object>();
var acceleration = "";
var random = new Random(1);
int[] Prompt(int n) => [.. Enumerable.Range(0, n).Select(_ => random.Next(1000, 100000 % model.Config.VocabularySize))];

if (args[0] == "decode-parts")
{
    // Where a decode step's time goes: each part alone over every layer, against the bytes it must move.
    int[] partBatches = options.TryGetValue("--batch", out var pb) ? [.. pb.Split(',').Select(int.Parse)] : [1, 32, 64];
    int[] partContexts = options.TryGetValue("--context", out var pc) ? [.. pc.Split(',').Select(int.Parse)] : [512, 2048];
    var partLines = DecodePartsBenchmark.Run(model, device, partContexts.SelectMany(cx => partBatches.Select(b => (b, cx))), kernelTuning);
    File.WriteAllLines(output, partLines);
    foreach (var line in partLines)
        Console.WriteLine(line);
    return 0;
}

if (options.ContainsKey("--mixed"))
{
    // Serving-like steps: 48 sequences decoding at ~1,000 tokens while a 1,500-token prompt arrives every step
    // (chunked prefill beside the decodes), at temperature 0 and 1.
    foreach (var temperature in new[] { 0f, 1f })
    {
        using var engine = new TorchEngine("m", model, new IdTokenizer(model.Config.VocabularySize),
            new TorchEngineOptions { KvBlocks = 20000, MaxBatchedTokens = 2048, MaxContextTokens = 8192, MaxRunningRequests = 256, CaptureGraphsAtStart = true, PrefillKernel = prefillKernelOn });
        Console.WriteLine($"acceleration: {engine.Acceleration}");
        SamplingParameters Sampling() => new() { MaxTokens = 4000, Temperature = temperature, IgnoreEndOfSequence = true };
        for (var i = 0; i < 48; i++)
            engine.Add(new RequestSpec { RequestId = $"d{i}", Model = "m", PromptTokenIds = Prompt(1000), Sampling = Sampling() });
        for (var first = 0; first < 48;)
            first += engine.ComputeStep().Outputs.Count(o => o.CompletionTokens == 1);
        double mixed = 0, decodeOnly = 0;
        int mixedSteps = 0, decodeSteps = 0;
        for (var s = 0; s < 40; s++)
        {
            if (s % 2 == 0)
                engine.Add(new RequestSpec { RequestId = $"p{s}", Model = "m", PromptTokenIds = Prompt(1500), Sampling = Sampling() with { MaxTokens = 1 } });
            Sync();
            var t0 = Stopwatch.GetTimestamp();
            var step = engine.ComputeStep();
            Sync();
            var ms = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
            if (step.PrefillTokens > 0) { mixed += ms; mixedSteps++; } else { decodeOnly += ms; decodeSteps++; }
        }
        Console.WriteLine($"temperature {temperature}: mixed steps {mixedSteps} at {mixed / Math.Max(1, mixedSteps):F1} ms, decode-only steps {decodeSteps} at {decodeOnly / Math.Max(1, decodeSteps):F1} ms");
    }
    return 0;
}

if (options.ContainsKey("--capture-all"))
{
    var started = Stopwatch.GetTimestamp();
    using var warm = new TorchEngine("m", model, new IdTokenizer(model.Config.VocabularySize),
        new TorchEngineOptions { KvBlocks = 1024, MaxRunningRequests = 256, MaxContextTokens = 8192, CaptureGraphsAtStart = true });
    Console.WriteLine($"capture at start: {warm.GraphCaptures.Count} graphs in {Stopwatch.GetElapsedTime(started).TotalSeconds:F1} s (captures {warm.GraphCaptures.Time.TotalSeconds:F1} s)");
}
int[] contexts = options.TryGetValue("--context", out var onlyContext) ? [int.Parse(onlyContext, System.Globalization.CultureInfo.InvariantCulture)] : [512, 2048];
int[] batches = options.TryGetValue("--batch", out var onlyBatch) ? [int.Parse(onlyBatch, System.Globalization.CultureInfo.InvariantCulture)] : [1, 8, 32, 64];
foreach (var context in contexts)
{
    foreach (var batch in batches)
    {
        var steps = options.TryGetValue("--steps", out var stepsText) ? int.Parse(stepsText, System.Globalization.CultureInfo.InvariantCulture) : 32;
        using var engine = new TorchEngine("m", model, new IdTokenizer(model.Config.VocabularySize),
            new TorchEngineOptions { KvBlocks = batch * ((context + 3 * steps + 16) / 16 + 1), MaxBatchedTokens = 8192, MaxContextTokens = 8192, MaxRunningRequests = 256, CudaKernels = kernelsOn, CudaGraphs = graphsOn, PrefillKernel = prefillKernelOn, TensorCoreDecode = decodeTcOn, KernelTuning = kernelTuning });
        acceleration = engine.Acceleration;
        for (var i = 0; i < batch; i++)
            engine.Add(new RequestSpec { RequestId = $"r{i}", Model = "m", PromptTokenIds = Prompt(context), Sampling = new SamplingParameters { MaxTokens = steps + 4096, Temperature = 0, IgnoreEndOfSequence = true } });
        for (var first = 0; first < batch;)
            first += engine.ComputeStep().Outputs.Count(o => o.CompletionTokens == 1); // prefill every request
        engine.ComputeStep(); // warm-up decode step
        Sync();
        var start = Stopwatch.GetTimestamp();
        var startedUnixMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var produced = 0;
        var runner = TimeSpan.Zero;
        var delayBefore = engine.GraphLaunchDelay;
        var hostBefore = engine.GraphHostTime;
        Profiler.Start(device);
        for (var s = 0; s < steps; s++)
        {
            var step = engine.ComputeStep();
            produced += step.Outputs.Count;
            runner += step.Duration;
        }
        Sync();
        Profiler.Stop(device);
        var seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        Console.WriteLine($"graphs captured: {engine.GraphCaptures.Count} in {engine.GraphCaptures.Time.TotalSeconds:F2} s");
        var partitions = string.Join(" ", engine.DecodePartitionTokens.Select(p => $"{p.Key.Batch}x{p.Key.Blocks}:{p.Value}"));
        var products = string.Join("; ", engine.DecodeProductChoices.Select(p => p.ToString()));
        var graphSteps = Math.Max(1, engine.GraphLaunchDelay.Steps - delayBefore.Steps);
        var host = engine.GraphHostTime;
        var row = new { kind = "decode", acceleration, batch, context, steps, tokens = produced, seconds, tokensPerSecond = produced / seconds, msPerStep = seconds * 1000 / steps,
            partitions, products,
            // Where the step's wall time goes on the host: the runner's share (the rest is scheduling and the engine's
            // bookkeeping, with the GPU idle), and within the runner the time before the graph's launch (GPU idle too).
            runnerMsPerStep = runner.TotalMilliseconds / steps,
            beforeLaunchMsPerStep = (engine.GraphLaunchDelay.BeforeLaunch - delayBefore.BeforeLaunch).TotalMilliseconds / graphSteps,
            // Of that: staging the inputs, queuing their copy, launching the graph.
            stageMsPerStep = (host.Stage - hostBefore.Stage).TotalMilliseconds / graphSteps,
            copyMsPerStep = (host.Copy - hostBefore.Copy).TotalMilliseconds / graphSteps,
            launchMsPerStep = (host.Launch - hostBefore.Launch).TotalMilliseconds / graphSteps,
            startedUnixMs, endedUnixMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() };
        results.Add(row);
        Console.WriteLine(JsonSerializer.Serialize(row));
    }
}

var prefillRepeat = options.TryGetValue("--prefill-repeat", out var repeatText) ? int.Parse(repeatText, System.Globalization.CultureInfo.InvariantCulture) : 1;
var prefillShapes = Enumerable.Repeat(new[] { (1, 2048), (8, 512), (1, 2048), (8, 512) }, prefillRepeat).SelectMany(x => x);
foreach (var (batch, length) in options.ContainsKey("--no-prefill") ? [] : prefillShapes)
{
    using var engine = new TorchEngine("m", model, new IdTokenizer(model.Config.VocabularySize),
        new TorchEngineOptions { KvBlocks = batch * (length / 16 + 2), MaxBatchedTokens = 4096, MaxContextTokens = 4096, CudaKernels = kernelsOn, CudaGraphs = graphsOn, PrefillKernel = prefillKernelOn, TensorCoreDecode = decodeTcOn, KernelTuning = kernelTuning });
    for (var i = 0; i < batch; i++)
        engine.Add(new RequestSpec { RequestId = $"p{i}", Model = "m", PromptTokenIds = Prompt(length), Sampling = new SamplingParameters { MaxTokens = 1, Temperature = 0, IgnoreEndOfSequence = true } });
    Sync();
    var start = Stopwatch.GetTimestamp();
    var startedUnixMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
    while (engine.HasWork)
        engine.ComputeStep();
    Sync();
    var seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
    var row = new { kind = "prefill", batch, length, seconds, tokensPerSecond = batch * length / seconds, startedUnixMs, endedUnixMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() };
    results.Add(row);
    Console.WriteLine(JsonSerializer.Serialize(row));
}
File.WriteAllText(output, JsonSerializer.Serialize(new { model = folder, loadSeconds, acceleration, results }, new JsonSerializerOptions { WriteIndented = true }));
return 0;
