namespace ControlPlane.Models.Chat;

/// <summary>One message of a chat request, its content flattened to text.</summary>
public sealed record ChatMessage(string Role, string Content);
