namespace ControlPlane.Server.Gateway;

/// <summary>Which OpenAI endpoint a request came through, which decides the shape of its answer.</summary>
public enum CompletionKind
{
    Completion,
    Chat,
}
