using static TorchSharp.torch;

namespace ControlPlane.Engine.Cuda;

/// <summary>
/// GPU time of a call, for choices made at start by measurement (the decode products' algorithms; the partition sizes'
/// measurement with tuning PARTITION_PROFILES=1, which otherwise still times on the host clock): each round of calls
/// is queued behind a few milliseconds of other work, so the host's launch cost is hidden and CUDA events on the legacy
/// default stream time the kernels alone, back to back as a graph runs them. Call outside any graph capture.
/// </summary>
public static class GpuTimer
{
    /// <summary>
    /// Microseconds a call of <paramref name="call"/> (given the call's index), the best of <paramref name="rounds"/> rounds of
    /// <paramref name="calls"/>; each round queued behind <paramref name="ahead"/> 4096² products (about 0.2 ms each on an
    /// H100), which must outlast the host's launching of a round for its time to be the GPU's alone.
    /// </summary>
    public static double Microseconds(Action<int> call, ScalarType dtype, Device device, int calls = 20, int rounds = 2, int ahead = DefaultAhead)
    {
        using var busy = Busy(dtype, device);
        call(0);
        cuda.synchronize();
        CudaApi.Check(CudaApi.cuEventCreate(out var start, 0), "cuEventCreate");
        CudaApi.Check(CudaApi.cuEventCreate(out var end, 0), "cuEventCreate");
        try
        {
            var best = double.MaxValue;
            for (var round = 0; round < rounds; round++)
            {
                QueueAhead(busy, ahead);
                CudaApi.Check(CudaApi.cuEventRecord(start, IntPtr.Zero), "cuEventRecord");
                for (var i = 0; i < calls; i++)
                    call(i);
                CudaApi.Check(CudaApi.cuEventRecord(end, IntPtr.Zero), "cuEventRecord");
                CudaApi.Check(CudaApi.cuEventSynchronize(end), "cuEventSynchronize");
                CudaApi.Check(CudaApi.cuEventElapsedTime(out var ms, start, end), "cuEventElapsedTime");
                best = Math.Min(best, ms * 1e3 / calls);
            }
            return best;
        }
        finally
        {
            _ = CudaApi.cuEventDestroy(start);
            _ = CudaApi.cuEventDestroy(end);
        }
    }

    /// <summary>
    /// Microseconds a call of each of <paramref name="candidates"/> (given the call's index), all queued behind one stretch
    /// of other work and timed by CUDA events between them, with one wait at the end: a quick ranking of many candidates,
    /// <paramref name="calls"/> calls each. A candidate whose launch throws gets NaN (nothing of it was queued).
    /// </summary>
    public static double[] MicrosecondsEach(IReadOnlyList<Action<int>> candidates, ScalarType dtype, Device device, int calls = 8)
    {
        var times = new double[candidates.Count];
        if (candidates.Count == 0)
            return times;
        using var busy = Busy(dtype, device);
        cuda.synchronize();
        var events = new IntPtr[candidates.Count + 1];
        var failed = new bool[candidates.Count];
        try
        {
            for (var e = 0; e < events.Length; e++)
                CudaApi.Check(CudaApi.cuEventCreate(out events[e], 0), "cuEventCreate");
            QueueAhead(busy, DefaultAhead);
            CudaApi.Check(CudaApi.cuEventRecord(events[0], IntPtr.Zero), "cuEventRecord");
            for (var c = 0; c < candidates.Count; c++)
            {
                try
                {
                    for (var i = 0; i < calls; i++)
                        candidates[c](c * calls + i);
                }
                catch (CudaException)
                {
                    failed[c] = true;
                }
                CudaApi.Check(CudaApi.cuEventRecord(events[c + 1], IntPtr.Zero), "cuEventRecord");
            }
            CudaApi.Check(CudaApi.cuEventSynchronize(events[^1]), "cuEventSynchronize");
            for (var c = 0; c < candidates.Count; c++)
            {
                CudaApi.Check(CudaApi.cuEventElapsedTime(out var ms, events[c], events[c + 1]), "cuEventElapsedTime");
                times[c] = failed[c] ? double.NaN : ms * 1e3 / calls;
            }
            return times;
        }
        finally
        {
            foreach (var e in events.Where(e => e != IntPtr.Zero))
                _ = CudaApi.cuEventDestroy(e);
        }
    }

    /// <summary>Products queued ahead unless told otherwise: enough for a round of a few dozen launches.</summary>
    private const int DefaultAhead = 8;

    private static Tensor Busy(ScalarType dtype, Device device) =>
        randn([4096, 4096], dtype == ScalarType.Float32 ? ScalarType.Float32 : dtype, device);

    /// <summary>A few milliseconds of products queued ahead of the calls to time, so that they are all queued before the GPU reaches them.</summary>
    private static void QueueAhead(Tensor busy, int products)
    {
        using var scope = NewDisposeScope();
        for (var i = 0; i < products; i++)
            busy.matmul(busy);
    }
}
