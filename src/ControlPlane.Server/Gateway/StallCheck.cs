using ControlPlane.Requests;

namespace ControlPlane.Server.Gateway;

/// <summary>What a silent stream's check found.</summary>
public enum StallVerdict
{
    /// <summary>Its instance runs it and has sent nothing the gateway lacks: it waits its turn (queued, preempted, slow).</summary>
    Waiting,

    /// <summary>Its instance moved it lately and the gateway did not hear: ask where it went.</summary>
    Moved,

    /// <summary>It looks lost (not held, chunks sent but never here, or no answer), for the first time: look again next period.</summary>
    Suspect,

    /// <summary>It looked lost at the last check too, with the stream no further: resume it.</summary>
    Lost,
}

/// <summary>A look that found a request seemingly lost: on which instance, with the gateway's stream at which chunk.</summary>
public sealed record StallSuspicion(string InstanceId, int NextSequence);

/// <summary>
/// The gateway's judgement of a stream gone silent, from its instance's answer (<see cref="RequestLocation"/>; null when
/// the call failed). A request is resumed only when two looks a period apart find it lost on the same instance with the
/// stream where it was: a last chunk on its way, or a first one just sent after a long queue, is not taken for a loss.
/// </summary>
public static class StallCheck
{
    public static StallVerdict Judge(RequestLocation? where, string instanceId, int nextSequence, StallSuspicion? earlier)
    {
        if (where?.MovedTo is not null)
            return StallVerdict.Moved;
        if (where is { Held: true } && where.SentChunks <= nextSequence)
            return StallVerdict.Waiting;
        return earlier is not null && earlier.InstanceId == instanceId && earlier.NextSequence == nextSequence
            ? StallVerdict.Lost
            : StallVerdict.Suspect;
    }
}
