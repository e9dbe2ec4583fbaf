using Orleans.Concurrency;

namespace ControlPlane.Tokens;

/// <summary>A gateway's receiver of token batches (a grain observer, one per gateway).</summary>
[Alias("ControlPlane.ITokenSink")]
public interface ITokenSink : IGrainObserver
{
    [OneWay, Alias("OnTokens")]
    Task OnTokensAsync(TokenBatch batch);

    /// <summary>A request of this gateway moved to another instance; its tokens come from there from now on.</summary>
    [OneWay, Alias("OnMoved")]
    Task OnMovedAsync(RequestMove move);
}
