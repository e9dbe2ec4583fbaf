namespace ControlPlane.Requests;

/// <summary>Why a request stopped producing tokens.</summary>
[GenerateSerializer]
public enum FinishReason
{
    None,
    Stop,
    Length,
    Aborted,
    Error,
}
