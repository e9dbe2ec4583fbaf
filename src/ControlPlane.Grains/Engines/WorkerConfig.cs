namespace ControlPlane.Grains.Engines;

/// <summary><c>ControlPlane:Worker</c>: how a worker silo stops.</summary>
public sealed record WorkerConfig
{
    /// <summary>
    /// How long a stopping worker (SIGTERM, pod deletion) waits for its running requests to finish, taking no
    /// new ones, before it leaves the cluster; what is left is resumed elsewhere by its gateways.
    /// </summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// The port of this worker's KV data endpoint (migrations into its engines stream their blocks there); 0 picks a
    /// free one, -1 serves none (engines here then take no migration from another worker).
    /// </summary>
    public int KvPort { get; init; }

    /// <summary>The host other workers reach the KV endpoint at; empty: the silo's own address.</summary>
    public string KvHost { get; init; } = "";

    /// <summary>
    /// Whether KV parts to a worker of this host go device to device (a CUDA IPC handle to the blocks on this worker's
    /// GPU, copied by the receiver over NVLink or within one GPU) when the receiver can reach this GPU; false: always as
    /// bytes over the socket. A receiver that cannot open a handle asks for the bytes, so true is safe anywhere.
    /// </summary>
    public bool KvDevicePath { get; init; } = true;

    /// <summary>
    /// The GPU this worker runs on, by its index on the host (or in <c>CUDA_VISIBLE_DEVICES</c> when that is set); null:
    /// the first visible one. The worker makes it CUDA device 0 and keeps the host's other GPUs visible after it, so
    /// that KV blocks from workers on those GPUs can be copied over NVLink (see <see cref="KvDevicePath"/>).
    /// </summary>
    public int? Gpu { get; init; }
}
