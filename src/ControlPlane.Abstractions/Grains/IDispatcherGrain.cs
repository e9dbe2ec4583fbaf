using ControlPlane.Instances;
using ControlPlane.Requests;

namespace ControlPlane.Grains;

/// <summary>A stateless dispatch worker of one model on each control silo; picks an instance for a request.</summary>
[Alias("ControlPlane.IDispatcherGrain")]
public interface IDispatcherGrain : IGrainWithStringKey
{
    /// <summary>
    /// Picks an instance, skipping <paramref name="exclude"/> (instances that already refused this request), by the model's
    /// <paramref name="policy"/> (a dispatch policy's name) and <paramref name="queueLimit"/> (requests waiting an instance
    /// beyond which it refuses); null: the silo's <c>ControlPlane:Dispatch</c> setting.
    /// </summary>
    [Alias("Dispatch")]
    Task<DispatchDecision> DispatchAsync(RequestSpec request, IReadOnlyList<string> exclude, string? policy = null, int? queueLimit = null,
        CancellationToken cancellationToken = default);

    /// <summary>
    /// Another decode instance for a split request whose handoff the one it had refused (or could not be reached), skipping
    /// <paramref name="exclude"/>: the prefill instance asks. Null when none will take it (it then decodes where it prefilled).
    /// </summary>
    [Alias("PickDecode")]
    Task<string?> PickDecodeAsync(RequestSpec request, IReadOnlyList<string> exclude, CancellationToken cancellationToken = default);
}
